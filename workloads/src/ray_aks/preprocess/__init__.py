"""The Ray Data preprocessing job: records in, normalised parquet out."""

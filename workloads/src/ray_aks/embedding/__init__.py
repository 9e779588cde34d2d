"""Batch embedding with Ray Data: `ray-aks embed` (text lines, parquet or an image folder -> parquet)."""

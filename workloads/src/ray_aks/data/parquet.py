"""Parquet reads of the jobs (the embedding cache, the preprocessed data) through Ray Data."""

from __future__ import annotations


def read_parquet(path: str):
    """`ray.data.read_parquet` through Ray Data's v1 parquet datasource.

    Ray 2.60's default (v2) reader starts a pool of 32 FooterReader actors for every read
    (RAY_DATA_PARQUET_FOOTER_NUM_ACTORS): on a 2-CPU node a 48-row read took 28-64 s instead of
    2 s. The choice is made when the read is planned, so the setting is restored right after.
    """
    import ray.data

    context = ray.data.DataContext.get_current()
    previous = context.use_datasource_v2
    context.use_datasource_v2 = False
    try:
        return ray.data.read_parquet(path)
    finally:
        context.use_datasource_v2 = previous

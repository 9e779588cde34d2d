"""`ray-aks preprocess`: parquet, CSV or numpy records -> Ray Data -> each record normalised -> parquet.

Scalar numeric columns are normalised with dataset-wide statistics (one aggregation pass):
`standard` gives zero mean and unit variance, `minmax` maps onto [0, 1]; `l2` scales each
record's numeric values to unit length. Array columns (numpy records, e.g. images) are
normalised within each record by the same rule. Other columns pass through unchanged.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ray_aks.preprocess.config import PreprocessConfig

logger = logging.getLogger(__name__)

_SUFFIX_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".npy": "numpy"}


@dataclass
class PreprocessResult:
    rows: int
    seconds: float
    rows_per_second: float
    output: str
    scalar_columns: list[str]
    array_columns: list[str]
    statistics: dict[str, dict[str, float]] = field(default_factory=dict)


def detect_format(path: str | Path) -> str:
    """parquet, csv or numpy, from the file suffixes; ambiguous or unknown input is a clear error."""
    root = Path(path)
    if not root.exists():
        raise FileNotFoundError(f"input {root} does not exist")
    files = (
        [root]
        if root.is_file()
        else [p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")]
    )
    formats = {_SUFFIX_FORMATS.get(p.suffix.lower()) for p in files}
    if not files or None in formats or len(formats) != 1:
        suffixes = sorted({p.suffix or p.name for p in files})
        raise ValueError(
            f"cannot tell the format of {root} (suffixes: {suffixes or 'no files'}); "
            "use .parquet, .csv or .npy files, or pass --input-format"
        )
    return formats.pop()


def resolve_format(path: str | Path, input_format: str) -> str:
    """The format to read `path` with; a missing path or an unknown format is a clear error."""
    if not Path(path).exists():
        raise FileNotFoundError(f"input {path} does not exist")
    return detect_format(path) if input_format == "auto" else input_format


def _read(path: str, input_format: str):
    import ray.data

    from ray_aks.data.parquet import read_parquet

    readers = {"parquet": read_parquet, "csv": ray.data.read_csv, "numpy": ray.data.read_numpy}
    return readers[input_format](path)


def _split_columns(schema: Any, wanted: list[str] | None) -> tuple[list[str], list[str]]:
    """(scalar numeric columns, array columns) of a Ray Data schema."""
    import pyarrow as pa

    scalars, arrays = [], []
    for name, dtype in zip(schema.names, schema.types, strict=True):
        if wanted is not None and name not in wanted:
            continue
        arrow_type = dtype if isinstance(dtype, pa.DataType) else None
        if arrow_type is not None and (pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type)):
            scalars.append(name)
        elif "Tensor" in type(dtype).__name__:  # Ray's ArrowTensorType / ArrowVariableShapedTensorType
            arrays.append(name)
    if wanted is not None:
        unknown = sorted(set(wanted) - set(scalars) - set(arrays))
        if unknown:
            raise ValueError(
                f"--columns {unknown} are not numeric columns of the input (columns: {schema.names})"
            )
    return scalars, arrays


def _column_statistics(ds, columns: list[str], method: str) -> dict[str, dict[str, float]]:
    from ray.data.aggregate import Max, Mean, Min, Std

    if method == "l2" or not columns:
        return {}
    aggs = []
    for col in columns:
        if method == "standard":
            aggs += [Mean(col, alias_name=f"{col}/mean"), Std(col, ddof=0, alias_name=f"{col}/std")]
        else:
            aggs += [Min(col, alias_name=f"{col}/min"), Max(col, alias_name=f"{col}/max")]
    row = ds.aggregate(*aggs)
    stats: dict[str, dict[str, float]] = {col: {} for col in columns}
    for key, value in row.items():
        col, stat = key.rsplit("/", 1)
        stats[col][stat] = float(value)
    return stats


def normalise_batch(
    batch: dict[str, np.ndarray],
    method: str,
    scalar_columns: list[str],
    array_columns: list[str],
    stats: dict[str, dict[str, float]],
) -> dict[str, np.ndarray]:
    """The per-batch step (a Ray Data task): statistics applied to scalar columns, rules to arrays."""
    out = dict(batch)
    if scalar_columns:
        values = np.stack([np.asarray(batch[c], dtype=np.float64) for c in scalar_columns], axis=1)
        if method == "l2":
            norms = np.linalg.norm(values, axis=1, keepdims=True)
            values = values / np.where(norms == 0, 1.0, norms)
        else:
            for i, col in enumerate(scalar_columns):
                s = stats[col]
                offset, scale = (
                    (s["mean"], s["std"]) if method == "standard" else (s["min"], s["max"] - s["min"])
                )
                values[:, i] = (values[:, i] - offset) / (scale if scale > 0 else 1.0)
        for i, col in enumerate(scalar_columns):
            out[col] = values[:, i]
    for col in array_columns:
        out[col] = np.stack([normalise_array(np.asarray(a), method) for a in batch[col]])
    return out


def normalise_array(values: np.ndarray, method: str) -> np.ndarray:
    """One record's array normalised by itself (float32)."""
    x = values.astype(np.float64)
    if method == "standard":
        std = x.std()
        x = (x - x.mean()) / (std if std > 0 else 1.0)
    elif method == "minmax":
        span = x.max() - x.min()
        x = (x - x.min()) / (span if span > 0 else 1.0)
    else:
        norm = np.linalg.norm(x)
        x = x / (norm if norm > 0 else 1.0)
    return x.astype(np.float32)


def check_output(output: str | Path) -> Path:
    """The output directory must be new or empty: the job never overwrites earlier results."""
    path = Path(output)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise FileExistsError(f"output {path} exists and is not an empty directory (nothing is overwritten)")
    return path


def count_parquet_rows(directory: str | Path) -> int:
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(p).metadata.num_rows for p in Path(directory).rglob("*.parquet"))


def preprocess(cfg: PreprocessConfig) -> PreprocessResult:
    from ray_aks.local_ray import connect_ray

    input_format = resolve_format(cfg.input, cfg.input_format)
    output = check_output(cfg.output)
    connect_ray()

    started = time.perf_counter()
    ds = _read(cfg.input, input_format)
    scalars, arrays = _split_columns(ds.schema(), cfg.columns)
    if not scalars and not arrays:
        raise ValueError(f"{cfg.input} has no numeric columns to normalise (columns: {ds.schema().names})")
    stats = _column_statistics(ds, scalars, cfg.method)
    normalised = ds.map_batches(
        normalise_batch,
        fn_kwargs={"method": cfg.method, "scalar_columns": scalars, "array_columns": arrays, "stats": stats},
        batch_format="numpy",
    )
    normalised.write_parquet(str(output))
    seconds = time.perf_counter() - started
    rows = count_parquet_rows(output)
    result = PreprocessResult(
        rows=rows,
        seconds=seconds,
        rows_per_second=rows / seconds if seconds > 0 else float("inf"),
        output=str(output),
        scalar_columns=scalars,
        array_columns=arrays,
        statistics=stats,
    )
    print(
        f"preprocess: {rows} rows from {cfg.input} ({input_format}) -> {output} in {seconds:.1f}s "
        f"({result.rows_per_second:.0f} rows/s); {cfg.method} on {scalars + arrays}",
        flush=True,
    )
    return result

"""The Ray Data embedding pipeline: read -> embed in an actor pool -> parquet with ids and vectors.

The model code (SentenceEmbedder, ClipImageEmbedder) is Ray-free; this module is the Ray glue.
Vectors are written as fixed_size_list<float32>, which any parquet reader understands.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ray_aks.embedding.config import EmbedConfig, InputFormat, Kind

ID_COLUMN = "id"
EMBEDDING_COLUMN = "embedding"


@dataclass(frozen=True)
class EmbedReport:
    rows: int
    seconds: float
    output: str
    dimension: int
    actors: int = 1
    torch_threads: int = 1

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        return (
            f"embedded {self.rows} rows ({self.dimension}-d) in {self.seconds:.1f}s "
            f"= {self.rows_per_s:.1f} rows/s -> {self.output} "
            f"({self.actors} actor(s) x {self.torch_threads} torch thread(s))"
        )


class VectorBatches:
    """map_batches UDF: a Ray-free embedder per actor; numpy batch in, Arrow table out."""

    def __init__(
        self, kind: str, model: str, device: str, torch_threads: int, encode_batch_size: int, keep: list[str]
    ):
        if kind == Kind.text.value:
            from ray_aks.models.text_embedder import SentenceEmbedder

            self.embedder: Any = SentenceEmbedder(
                model, device=device, torch_threads=torch_threads, encode_batch_size=encode_batch_size
            )
        else:
            from ray_aks.models.clip_embedder import ClipImageEmbedder

            self.embedder = ClipImageEmbedder(model, device=device, torch_threads=torch_threads)
        self.keep = keep

    def __call__(self, batch: dict[str, np.ndarray]):
        import pyarrow as pa

        out = self.embedder(batch)
        vectors = np.ascontiguousarray(out[EMBEDDING_COLUMN], dtype=np.float32)
        columns = {
            name: pa.array(list(out[name]) if out[name].dtype == object else out[name]) for name in self.keep
        }
        columns[EMBEDDING_COLUMN] = pa.FixedSizeListArray.from_arrays(
            pa.array(vectors.reshape(-1)), vectors.shape[1]
        )
        return pa.table(columns)


def read_input(config: EmbedConfig):
    """The input as a dataset with an `id` column and `text` (text kind) or `image` (image kind)."""
    import ray.data
    from ray.data.expressions import monotonically_increasing_id

    fmt = config.resolved_format
    if fmt is InputFormat.images:
        ds = ray.data.read_images(config.input, include_paths=True, mode="RGB")
        ds = ds.rename_columns({"path": ID_COLUMN})  # an image's path is its id
    elif fmt is InputFormat.parquet:
        columns = [config.text_column] + ([config.id_column] if config.id_column else [])
        ds = ray.data.read_parquet(config.input, columns=columns)
        renames = {config.text_column: "text"} | ({config.id_column: ID_COLUMN} if config.id_column else {})
        ds = ds.rename_columns({old: new for old, new in renames.items() if old != new})
    else:
        if config.id_column:
            raise ValueError("id_column applies to parquet input; text lines get generated ids")
        ds = ray.data.read_text(config.input)
    if config.limit:
        ds = ds.limit(config.limit)
    if fmt is not InputFormat.images and not config.id_column:
        ds = ds.with_column(ID_COLUMN, monotonically_increasing_id())
    return ds


def prepare_output(output: str, overwrite: bool) -> Path:
    path = Path(output)
    if path.exists() and any(path.iterdir()):
        if not overwrite:
            raise FileExistsError(f"output {output} is not empty; pass --overwrite to replace it")
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    return path


def actor_threads(config: EmbedConfig) -> int:
    """torch threads per embedding actor for the connected cluster (see EmbedConfig.threads_on)."""
    import ray

    node_cpus = max((node["Resources"].get("CPU", 0) for node in ray.nodes() if node.get("Alive")), default=1)
    return config.threads_on(ray.cluster_resources().get("CPU", 1), node_cpus)


def run_embedding(config: EmbedConfig, overwrite: bool = False) -> EmbedReport:
    """Run the pipeline on the connected Ray cluster; returns what was written and how fast."""
    import pyarrow.parquet as pq

    output = prepare_output(config.output, overwrite)
    started = time.perf_counter()
    threads = actor_threads(config)
    ds = read_input(config)
    keep = [ID_COLUMN] + (["text"] if config.kind is Kind.text and config.keep_input else [])
    ds = ds.map_batches(
        VectorBatches,
        fn_constructor_kwargs={
            "kind": config.kind.value,
            "model": config.resolved_model,
            "device": config.device,
            "torch_threads": threads,
            "encode_batch_size": config.encode_batch_size,
            "keep": keep,
        },
        batch_size=config.resolved_batch_size,
        batch_format="numpy",
        concurrency=config.concurrency,
        num_cpus=config.num_cpus,
        num_gpus=config.num_gpus,
    )
    ds.write_parquet(str(output))
    seconds = time.perf_counter() - started

    files = sorted(output.glob("*.parquet"))
    rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    dimension = 0
    if files:
        vector_type = pq.read_schema(files[0]).field(EMBEDDING_COLUMN).type
        dimension = vector_type.list_size
    return EmbedReport(
        rows=rows,
        seconds=seconds,
        output=str(output),
        dimension=dimension,
        actors=config.concurrency,
        torch_threads=threads,
    )

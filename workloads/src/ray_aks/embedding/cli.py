"""`ray-aks embed`: the batch embedding pipeline from the command line (RayJob entrypoints call it).

Imports only typer and the typed config at module level; Ray and models load when the command runs.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from pydantic import ValidationError

from ray_aks.embedding.config import EmbedConfig, InputFormat, Kind


def embed(
    input: str = typer.Option(
        ..., "--input", help="File or directory: text lines, parquet, or an image folder."
    ),
    output: str = typer.Option(..., "--output", help="Directory for the parquet output (ids and vectors)."),
    kind: Kind = typer.Option(Kind.text, help="What to embed: text (sentence-transformers) or image (CLIP)."),
    input_format: InputFormat = typer.Option(
        InputFormat.auto, help="auto: images for --kind image, parquet for *.parquet, text lines otherwise."
    ),
    model: str | None = typer.Option(
        None,
        help="Hub id or local dir (default: all-MiniLM-L6-v2 for text, clip-vit-base-patch32 for images).",
    ),
    text_column: str = typer.Option("text", help="Text column of parquet input."),
    id_column: str | None = typer.Option(
        None, help="Column of parquet input to keep as id (default: generated)."
    ),
    batch_size: int = typer.Option(256, min=1, help="Rows per map_batches call."),
    encode_batch_size: int = typer.Option(
        64, min=1, help="Texts per forward pass inside a batch (text kind)."
    ),
    concurrency: int = typer.Option(1, min=1, help="Number of embedding actors."),
    num_cpus: float = typer.Option(1.0, min=0, help="CPUs reserved per embedding actor."),
    num_gpus: float = typer.Option(0.0, min=0, help="GPUs per embedding actor; > 0 runs on CUDA."),
    torch_threads: int | None = typer.Option(
        None,
        min=1,
        help="torch threads per actor (default on CPU: the cluster's cores shared by the actors, "
        "at most one node's).",
    ),
    keep_input: bool = typer.Option(True, help="Keep the text next to its vector in the output."),
    limit: int | None = typer.Option(None, min=1, help="Embed only the first N rows."),
    overwrite: bool = typer.Option(False, help="Replace a non-empty output directory."),
    address: str | None = typer.Option(
        None, help="Ray cluster (default: RAY_ADDRESS, else a new local Ray)."
    ),
    report_json: Path | None = typer.Option(
        None, help="Also write rows, seconds and rows/s to this JSON file."
    ),
) -> None:
    """Embed text lines, parquet text or images with Ray Data and write parquet with ids and vectors."""
    try:
        config = EmbedConfig(
            input=input,
            output=output,
            kind=kind,
            input_format=input_format,
            model=model,
            text_column=text_column,
            id_column=id_column,
            batch_size=batch_size,
            encode_batch_size=encode_batch_size,
            concurrency=concurrency,
            num_cpus=num_cpus,
            num_gpus=num_gpus,
            torch_threads=torch_threads,
            keep_input=keep_input,
            limit=limit,
        )
    except ValidationError as err:
        raise typer.BadParameter("; ".join(e["msg"] for e in err.errors())) from None
    if not Path(config.input).exists():
        raise typer.BadParameter(f"{config.input} does not exist", param_hint="--input")

    from ray_aks.embedding.pipeline import prepare_output, run_embedding

    try:
        prepare_output(config.output, overwrite)  # before Ray starts: a full output is refused at once
    except FileExistsError as err:
        raise typer.BadParameter(str(err), param_hint="--output") from None

    import ray

    if not ray.is_initialized():
        ray.init(address=address)
    report = run_embedding(config, overwrite=overwrite)
    typer.echo(report.line())
    if report_json:
        report_json.write_text(
            json.dumps(
                {
                    "rows": report.rows,
                    "seconds": report.seconds,
                    "rows_per_s": report.rows_per_s,
                    "dimension": report.dimension,
                    "output": report.output,
                    "actors": report.actors,
                    "torch_threads": report.torch_threads,
                }
            )
        )

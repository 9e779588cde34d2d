"""`ray-aks data ...`: write the datasets that tests and `make demo` use, in their real formats."""

from __future__ import annotations

from pathlib import Path

import typer

data_app = typer.Typer(help="Write small real datasets to disk (no network).", no_args_is_help=True)


@data_app.command("digits")
def digits(
    output: Path = typer.Option(..., help="Directory to write the four MNIST idx files into."),
    gzip: bool = typer.Option(True, help="Gzip the files (.gz), as MNIST is distributed."),
    seed: int = typer.Option(0, help="Seed of the stratified train/test split."),
) -> None:
    """scikit-learn's digits upscaled to 28x28, written as MNIST idx files (train-*, t10k-*)."""
    from ray_aks.data.mnist import load_mnist_dir, write_digits_idx

    out = write_digits_idx(output, compress=gzip, seed=seed)
    split = load_mnist_dir(out)
    typer.echo(f"wrote {len(split.train_labels)} train and {len(split.test_labels)} test digits to {out}")

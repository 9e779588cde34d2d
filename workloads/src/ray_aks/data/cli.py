"""`ray-aks data ...`: write the datasets that tests and `make demo` use, in their real formats.
Each command's options are the fields of its typed config (ray_aks.cli_options)."""

from __future__ import annotations

import typer

from ray_aks.cli_options import config_command
from ray_aks.data.config import DigitsConfig

data_app = typer.Typer(help="Write small real datasets to disk (no network).", no_args_is_help=True)


@data_app.command("digits")
@config_command(DigitsConfig)
def digits(cfg: DigitsConfig) -> None:
    """scikit-learn's digits upscaled to 28x28, written as MNIST idx files (train-*, t10k-*)."""
    from ray_aks.data.mnist import load_mnist_dir, write_digits_idx

    out = write_digits_idx(cfg.output, compress=cfg.gzip, seed=cfg.seed)
    split = load_mnist_dir(out)
    typer.echo(f"wrote {len(split.train_labels)} train and {len(split.test_labels)} test digits to {out}")

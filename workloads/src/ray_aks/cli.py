"""The `ray-aks` command: what RayJob entrypoints, `make demo` and users call.

Each area registers its subcommands below. Command modules import only typer and their typed
config at import time, so `ray-aks --help` stays fast; Ray, torch and models load inside commands.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="ray-aks",
    help=(
        "Ray workloads for AKS: train, evaluate, tune, preprocess, embed and serve, "
        "on a local Ray or in a RayJob."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Training area: train, tune, preprocess and the data helper (Typer apps import nothing heavy).
from ray_aks.data.cli import data_app  # noqa: E402
from ray_aks.preprocess.cli import preprocess  # noqa: E402
from ray_aks.training.cli import train_app  # noqa: E402
from ray_aks.tuning.cli import tune  # noqa: E402

app.add_typer(train_app, name="train")
app.command("tune")(tune)
app.command("preprocess")(preprocess)
app.add_typer(data_app, name="data")

# Evaluation: registered models scored with Ray Data batch inference.
from ray_aks.evaluation.cli import evaluate_app  # noqa: E402

app.add_typer(evaluate_app, name="evaluate")

# Serving and embedding area.
from ray_aks.embedding.cli import embed  # noqa: E402
from ray_aks.serving.cli import serve  # noqa: E402

app.command("embed")(embed)
app.command("serve")(serve)


def main() -> None:
    app()


if __name__ == "__main__":
    main()

"""`ray-aks evaluate ...`: Typer commands whose options are the typed configs' fields (ray_aks.cli_options);
Ray and torch load inside them."""

from __future__ import annotations

import typer

from ray_aks.cli_options import config_command
from ray_aks.evaluation.config import ClipEvalConfig
from ray_aks.training.cli import configure_logging

evaluate_app = typer.Typer(
    help="Score registered models with Ray Data batch inference (local Ray, or the cluster in RAY_ADDRESS).",
    no_args_is_help=True,
)


@evaluate_app.command("clip-classifier")
@config_command(ClipEvalConfig)
def clip_classifier(cfg: ClipEvalConfig) -> None:
    """Load a CLIP-embedding classifier from the MLflow registry and report accuracy, precision,
    recall and F1 on a split of an image folder (the training run's held-out test split by default)."""
    from ray_aks.evaluation.clip_classifier import DataDirError, plan_evaluation, run_evaluation
    from ray_aks.evaluation.predictor import ModelSourceError
    from ray_aks.serving.model_source import is_mlflow_uri
    from ray_aks.tracking.mlflow_tracking import resolve_tracking_uri, tracking_server_problem

    if is_mlflow_uri(cfg.model_uri):
        uri = resolve_tracking_uri(cfg.tracking_uri)
        problem = tracking_server_problem(uri)
        if problem:
            raise typer.BadParameter(
                f"MLflow at {uri} does not answer: {problem}", param_hint="--tracking-uri"
            )
    try:
        plan = plan_evaluation(cfg)
    except ModelSourceError as err:
        raise typer.BadParameter(str(err), param_hint="--model-uri") from None
    except (DataDirError, FileNotFoundError) as err:
        raise typer.BadParameter(str(err), param_hint="--data-dir") from None
    configure_logging()
    result = run_evaluation(plan)
    print(result.report, flush=True)

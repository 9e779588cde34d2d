"""`ray-aks evaluate ...`: Typer commands that build the typed configs; Ray and torch load inside them."""

from __future__ import annotations

import typer

from ray_aks.evaluation.config import DEFAULT_CLIP_CLASSIFIER, ClipEvalConfig
from ray_aks.training.cli import TRACKING_HELP, build_config, configure_logging
from ray_aks.training.config import default_storage_path

evaluate_app = typer.Typer(
    help="Score registered models with Ray Data batch inference (local Ray, or the cluster in RAY_ADDRESS).",
    no_args_is_help=True,
)

AS_TRAINED = "Default: as recorded by the training run."


@evaluate_app.command("clip-classifier")
def clip_classifier(
    model_uri: str = typer.Option(
        DEFAULT_CLIP_CLASSIFIER,
        help="The classifier: models:/<name>@<alias>, models:/<name>/<version>, runs:/<run_id>/model "
        "or a checkpoint directory.",
    ),
    data_dir: str = typer.Option(..., help="Image folder with one sub-directory per class."),
    split: str = typer.Option("test", help="Images to evaluate: test, val, train or all."),
    clip_model: str = typer.Option(
        None, help=f"CLIP model: hub id or a local directory. {AS_TRAINED}", show_default=False
    ),
    test_fraction: float = typer.Option(
        None, min=0.01, max=0.99, help=f"Test share of each class. {AS_TRAINED}", show_default=False
    ),
    val_fraction: float = typer.Option(
        None, min=0.0, max=0.99, help=f"Validation share of each class. {AS_TRAINED}", show_default=False
    ),
    seed: int = typer.Option(None, help=f"Seed of the split. {AS_TRAINED}", show_default=False),
    use_gpu: bool = typer.Option(False, help="One GPU per classifier actor; CLIP embeds on CUDA."),
    batch_size: int = typer.Option(1024, min=1, help="Embeddings per classifier batch."),
    num_actors: int = typer.Option(1, min=1, help="Classifier actors (each loads the model once)."),
    embed_batch_size: int = typer.Option(32, min=1, help="Images per embedding batch."),
    embed_actors: int = typer.Option(1, min=1, help="Embedding actors (each holds one CLIP copy)."),
    storage_path: str = typer.Option(
        None,
        help="Where CLIP embeddings are cached; the cache a training run left there is reused. "
        "Default: /mnt/cluster_storage when mounted, else ~/ray_results.",
        show_default=False,
    ),
    tracking_uri: str = typer.Option(None, help=TRACKING_HELP, show_default=False),
) -> None:
    """Load a CLIP-embedding classifier from the MLflow registry and report accuracy, precision,
    recall and F1 on a split of an image folder (the training run's held-out test split by default)."""
    from ray_aks.evaluation.clip_classifier import DataDirError, plan_evaluation, run_evaluation
    from ray_aks.evaluation.predictor import ModelSourceError
    from ray_aks.serving.model_source import is_mlflow_uri
    from ray_aks.tracking.mlflow_tracking import resolve_tracking_uri, tracking_server_problem

    cfg = build_config(
        ClipEvalConfig,
        model_uri=model_uri,
        data_dir=data_dir,
        split=split,
        clip_model=clip_model,
        test_fraction=test_fraction,
        val_fraction=val_fraction,
        seed=seed,
        use_gpu=use_gpu,
        batch_size=batch_size,
        num_actors=num_actors,
        embed_batch_size=embed_batch_size,
        embed_actors=embed_actors,
        storage_path=storage_path or default_storage_path(),
        tracking_uri=tracking_uri,
    )
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

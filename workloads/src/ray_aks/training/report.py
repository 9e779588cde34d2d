"""Final classification metrics, the printed table and the training-curve plot. No Ray."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def classification_metrics(labels: np.ndarray, predictions: np.ndarray) -> dict[str, float]:
    """Accuracy and macro-averaged precision, recall and F1 (every class weighs the same)."""
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support

    precision, recall, f1, _ = precision_recall_fscore_support(
        labels, predictions, average="macro", zero_division=0
    )
    return {
        "accuracy": float(accuracy_score(labels, predictions)),
        "precision_macro": float(precision),
        "recall_macro": float(recall),
        "f1_macro": float(f1),
    }


def per_class_report(labels: np.ndarray, predictions: np.ndarray, class_names: Sequence[str]) -> str:
    from sklearn.metrics import classification_report

    return classification_report(
        labels,
        predictions,
        labels=list(range(len(class_names))),
        target_names=[str(name) for name in class_names],
        zero_division=0,
        digits=4,
    )


def metrics_table(metrics: dict[str, float], title: str) -> str:
    """A small aligned text table: what the CLI prints at the end of a run."""
    width = max(len(name) for name in metrics)
    rule = "-" * (width + 11)
    lines = [title, rule, f"{'metric':<{width}}  {'value':>8}", rule]
    lines += [f"{name:<{width}}  {value:>8.4f}" for name, value in metrics.items()]
    lines.append(rule)
    return "\n".join(lines)


def training_curve_figure(history: Sequence[dict[str, Any]], title: str):
    """Loss and accuracy per epoch, train vs test, side by side."""
    import matplotlib

    matplotlib.use("Agg")  # headless: pods and CI have no display
    from matplotlib import pyplot as plt

    epochs = [row["epoch"] for row in history]
    figure, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 4))
    for split in ("train", "test"):
        loss_ax.plot(epochs, [row[f"{split}_loss"] for row in history], marker="o", label=split)
        acc_ax.plot(epochs, [row[f"{split}_accuracy"] for row in history], marker="o", label=split)
    loss_ax.set(xlabel="epoch", ylabel="cross-entropy loss", title="loss")
    acc_ax.set(xlabel="epoch", ylabel="accuracy", title="accuracy", ylim=(0, 1.02))
    for ax in (loss_ax, acc_ax):
        ax.legend()
        ax.grid(alpha=0.3)
    figure.suptitle(title)
    figure.tight_layout()
    return figure

"""Evaluation of registered models: load from the MLflow registry, batch inference with Ray Data."""

"""Hyperparameter search with Ray Tune (ASHA) over the real MNIST training loop."""

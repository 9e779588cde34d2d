"""MLflow tracking that never costs a training result: a down server is a warning, not a failure."""

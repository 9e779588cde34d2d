"""Ray Serve apps (MNIST classifier, text generation, text embeddings) as typed builders.

Each `ray_aks.serving.<app>:app` is a serveConfigV2 `import_path`; its `args` validate into the
module's pydantic Args model. Builder modules import no torch/transformers/mlflow at module level:
models load in the replica constructor.
"""

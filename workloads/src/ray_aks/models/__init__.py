"""Model code shared by training, tuning and serving. Plain torch/transformers: no Ray imports."""

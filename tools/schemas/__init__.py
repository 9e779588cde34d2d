"""Make kubeconform's JSON schemas from upstream API definitions at test time (none are committed)."""

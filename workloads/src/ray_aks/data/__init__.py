"""Data readers and generators: real formats read from a path. No Ray imports in this package's readers."""

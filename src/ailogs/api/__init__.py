"""HTTP API: the only layer that imports FastAPI."""

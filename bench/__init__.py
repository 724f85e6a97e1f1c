"""Benchmarks of the leadflow service: `python -m bench <scenario>` from the repository root."""

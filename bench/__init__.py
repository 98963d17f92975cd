"""Benchmarks: each module here exposes `run(quick: bool) -> list[Row]`; `python -m bench` runs them all."""

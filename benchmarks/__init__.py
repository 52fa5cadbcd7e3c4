"""Benchmarks: each `benchmarks/bench_*.py` measures against a baseline in the same run."""

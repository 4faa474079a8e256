"""postplan benchmarks: `python -m bench.run`."""

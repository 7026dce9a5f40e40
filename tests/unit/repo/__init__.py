"""The repository's own promises: the docs, the benchmarks."""

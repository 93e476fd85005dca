"""Entry points: the `warehouse` command, the benchmark and the sample-data generator."""

"""CPU speed and memory benchmarks of IFAN. Run from the repository root:
``python -m bench.cpu_speed`` (see bench/README.md). Not part of the installed package."""

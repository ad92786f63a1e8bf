"""Measuring a model: the benchmark's rows, the stage profiler and its reports, statistics, power."""

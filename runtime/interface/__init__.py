"""The interface every executor implements: Executor, the ModelInfo it reports, its ShapeLimits."""

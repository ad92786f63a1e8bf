"""Model development: synthetic defocus data, training and evaluation (above the runtime)."""

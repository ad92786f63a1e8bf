"""What a model file says without running it: metadata, engine sidecar, plan, profiles (no TensorRT)."""

"""Opening a model on a backend (the executor choice) and the CPU executors: ONNX Runtime, PyTorch."""

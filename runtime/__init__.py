"""Running IFAN: executors (PyTorch, ONNX Runtime, TensorRT) behind one interface, and the
pre/post-processing around them. Importing this package needs neither torch nor TensorRT."""

"""Running IFAN: executors (PyTorch, ONNX Runtime, TensorRT) behind one interface, and the
pre/post-processing around them. Importing this package needs neither torch nor TensorRT.

Its modules are in wings, bottom to top: interface, model_files, executors, images, then measure,
demo and serving side by side; tensorrt/ is the floor above (docs/ARCHITECTURE.md)."""

"""TensorRT and CUDA: everything that imports them lives here."""

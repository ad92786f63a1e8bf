"""ifan-trt: IFAN single-image defocus deblurring, from PyTorch checkpoints to TensorRT engines."""

__version__ = "0.1.0"

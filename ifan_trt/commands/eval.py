"""`ifan eval`: PSNR/SSIM/MAE on DPDD, RealDOF or source/target folders (see ifan_trt.training.evaluate)."""

from ifan_trt.training.evaluate import register  # noqa: F401  (the parser and run live with the evaluation code)

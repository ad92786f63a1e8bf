"""`ifan train`: train IFAN on synthetic defocus on the CPU (see ifan_trt.training.train)."""

from ifan_trt.training.train import register  # noqa: F401  (the parser and run live with the training code)

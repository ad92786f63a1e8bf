"""ifan_trt.calib: precision prepared in the ONNX graph on the CPU, before any engine exists.

- fp16: which nodes stay FP32 (measured on real activations), FP16 conversion with FP32 I/O
- int8: TensorRT-style Q/DQ calibrated with ONNX Runtime on the standard-op twin, with a cache;
  the int8-fp16 graph
- audit: PSNR/SSIM/max error of a prepared graph against the FP32 graph
- emulate: FP16 graphs run on the CPU with every FP16 tensor rounded, as a GPU stores them
- twin: the standard-op twin of a plugin-form graph (same tensor names outside the IAC)
- prepare: the steps end to end, as `ifan precision` and `ifan build` run them
"""

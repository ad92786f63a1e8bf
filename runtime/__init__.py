"""ifan_trt.runtime"""

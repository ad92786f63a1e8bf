"""ifan_trt.export"""

"""ifan_trt.calib"""

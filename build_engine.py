#!/usr/bin/env python3
"""Build a TensorRT engine from an IFAN ONNX export: the same as `ifan build`, same options.

Example: python build_engine.py --onnx ifan.onnx --precision int8-fp16 --calib-images calib/ \
             --shapes min=1x3x256x256,opt=1x3x720x1280,max=1x3x1080x1920 -o ifan.plan
"""

import sys

from ifan_trt.cli import main

if __name__ == "__main__":
    sys.exit(main(["build", *sys.argv[1:]]))

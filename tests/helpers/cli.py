"""Each `ifan` command with just its required arguments: enough for argparse to reach an option
under test (a bad value fails while parsing; nothing runs, no file is needed)."""

COMMAND_LINES = {
    "deblur": ["deblur", "in.png"],
    "demo": ["demo"],
    "profile": ["profile"],
    "export": ["export", "-o", "m.onnx"],
    "check": ["check", "m.onnx"],
    "synth": ["synth", "-o", "set"],
    "train": ["train", "-o", "m.pth"],
    "eval": ["eval", "--data", "set"],
    "precision": ["precision", "m.onnx", "--to", "int8", "--calib-images", "pics"],
    "build": ["build", "--onnx", "m.onnx", "-o", "m.plan"],
    "serve": ["serve"],
    "triton-repo": ["triton-repo", "m.onnx", "-o", "repo"],
    "inspect": ["inspect", "m.onnx"],
    "benchmark": ["benchmark", "--data", "set", "--out-dir", "out"],
}

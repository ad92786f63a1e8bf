"""ifan_trt.export: IFAN to ONNX (plugin or standard-op IAC), and running the result on the CPU.

Torch is imported only by the export itself: ``ort_session`` and ``read_metadata`` work on a
runtime install without torch.
"""

from ifan_trt.export.graph import read_metadata
from .ort_plugin import ort_session


def export_onnx(*args, **kwargs):
    """See ifan_trt.export.onnx_export.export_onnx (imported here lazily: it needs torch)."""
    from .onnx_export import export_onnx as _export_onnx

    return _export_onnx(*args, **kwargs)


__all__ = ["export_onnx", "ort_session", "read_metadata"]

"""The ONNX bridge: export an engine graph to a standard ONNX model (to
cross-check it and race it against onnxruntime) and import ONNX models built
from the ops the engine has.

The per-family modules (export_*.py, import_*.py) register their exporters
and importers when imported, which this package does below."""
from engine.onnx_io import (  # noqa: F401
    export_attention,
    export_basic,
    export_fused,
    export_quant,
    export_recsys,
    export_rowwise,
    export_seq,
    export_vision,
    import_basic,
    import_seq,
    import_vision,
)
from engine.onnx_io.errors import OnnxFileError, OnnxIOError, UnsupportedExport, UnsupportedImport
from engine.onnx_io.export_graph import OPSET, export_onnx, save_onnx
from engine.onnx_io.import_graph import import_onnx

__all__ = ["OPSET", "OnnxFileError", "OnnxIOError", "UnsupportedExport", "UnsupportedImport",
           "export_onnx", "import_onnx", "save_onnx"]

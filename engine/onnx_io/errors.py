"""Errors of the ONNX bridge; every message names the op and the node, or the file."""
from __future__ import annotations


class OnnxIOError(ValueError):
    """Base class of the ONNX bridge's errors."""


class UnsupportedExport(OnnxIOError):
    """An engine node (or attribute value) with no ONNX mapping."""


class UnsupportedImport(OnnxIOError):
    """An ONNX node whose op type or attributes the engine cannot run."""


class OnnxFileError(OnnxIOError):
    """A file that is not a readable, valid ONNX model."""

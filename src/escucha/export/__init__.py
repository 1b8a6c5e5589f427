"""Export trained models to ONNX (``escucha export``); needs torch and onnx (``escucha[train]``).

The exported folder runs without torch through :mod:`escucha.runtime`.
"""

from .onnx import QUANTIZE, ExportReport, export_model

__all__ = ["export_model", "ExportReport", "QUANTIZE"]

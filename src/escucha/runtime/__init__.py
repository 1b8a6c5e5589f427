"""The torch-free inference runtime: exported models run with numpy and ONNX Runtime.

``escucha export MODEL`` (:mod:`escucha.export`, needs torch) writes an ONNX export folder
(:mod:`escucha.runtime.format`); :func:`load_export` runs it with the same predictor interface
as the torch runtime. :func:`escucha.load_model` picks this runtime by itself when a model folder
carries a current export (``MODEL/onnx``), unless ``ESCUCHA_RUNTIME=torch``.

Nothing here imports torch, and onnxruntime is imported when the first graph is loaded.
"""

from .format import EXPORT_DIRNAME, EXPORT_FORMAT, is_export_dir, read_export_config, stale_files
from .sessions import set_num_threads, torch_available

__all__ = ["load_export", "OnnxPredictor", "set_num_threads", "torch_available", "is_export_dir",
           "read_export_config", "stale_files", "EXPORT_DIRNAME", "EXPORT_FORMAT"]


def __getattr__(name):
    if name in ("load_export", "OnnxPredictor"):
        from . import predictor

        return getattr(predictor, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""escucha: speech emotion recognition, measured on speakers it has never heard.

>>> import escucha
>>> model = escucha.load_model()            # the bundled model
>>> model.predict("clip.wav").label
'angry'
"""

__version__ = "0.1.0"

from .errors import EscuchaError, AudioError, CorpusError, ModelError, ConfigError  # noqa: E402
from .labels import EMOTIONS  # noqa: E402

__all__ = ["__version__", "load_model", "adapt_model", "EMOTIONS", "EscuchaError", "AudioError", "CorpusError",
           "ModelError", "ConfigError"]


def load_model(path=None, *, runtime=None, labels=None, calibrate=True):
    """Load a trained model folder (``None``: the bundled model) on ``runtime`` (``"auto"``,
    ``"torch"`` or ``"onnx"``), answering among ``labels`` only when given (e.g.
    ``"neutral,happy,sad,angry"``), calibrated for deployment unless ``calibrate=False``.
    See :func:`escucha.inference.load_model`."""
    from .inference import load_model as _load

    return _load(path, runtime=runtime, labels=labels, calibrate=calibrate)


def adapt_model(model, dirs, out, **kw):
    """Copy a model adapted to unlabelled recordings. See :func:`escucha.inference.adapt.adapt_model`."""
    from .inference.adapt import adapt_model as _adapt

    return _adapt(model, dirs, out, **kw)

"""Long recordings and live audio: voice activity, emotion over time, per-call summaries.

>>> import escucha
>>> from escucha.longaudio import analyze_file
>>> result = analyze_file("call.wav", escucha.load_model(), channels="split",
...                       channel_names=["agent", "customer"])
>>> result.summary["dominant"], result.segments[0].to_dict()

The same streaming core (:class:`CallAnalyzer`) serves files, folders
(:func:`analyze_folder`) and audio arriving in chunks (:class:`LiveAnalyzer`).

Modules: ``analyzer`` (the streaming core), ``analyze`` (one file), ``live`` (chunks as they
arrive), ``batch`` (a folder; its parts in ``inputs``, ``worker``, ``pool``, ``ray_engine``,
``resume``, ``outdir``, ``tables``, ``interrupts``, ``progress``), ``segments``, ``summary``,
``result`` and ``settings`` (what a result is made of), ``stream`` and ``vad`` (audio in, speech
found), ``plot`` (the timeline figure).
"""

from .analyze import analyze_file
from .analyzer import CallAnalyzer
from .result import CallResult
from .segments import Segment, Window
from .summary import summarize
from .batch import analyze_folder, BatchReport
from .live import LiveAnalyzer, analyze_stream
from .vad import SileroVAD, VADConfig

__all__ = ["analyze_file", "analyze_folder", "analyze_stream", "CallAnalyzer", "CallResult", "Segment", "Window",
           "LiveAnalyzer", "BatchReport", "SileroVAD", "VADConfig", "summarize", "plot_timeline"]


def plot_timeline(result, path, **kw):
    """Timeline PNG of a :class:`CallResult` (see :func:`escucha.longaudio.plot.plot_timeline`)."""
    from .plot import plot_timeline as _plot

    return _plot(result, path, **kw)

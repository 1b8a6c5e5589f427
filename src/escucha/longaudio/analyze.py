"""Whole-call analysis of one recording of any length, in bounded memory: :func:`analyze_file`
reads the file in blocks and feeds them to the streaming core
(:class:`~escucha.longaudio.analyzer.CallAnalyzer`).

The parts of a call's analysis live in modules named for them: :mod:`~escucha.longaudio.segments`
(windows, segments, tiles), :mod:`~escucha.longaudio.summary` (per-call summary),
:mod:`~escucha.longaudio.result` (:class:`CallResult`), :mod:`~escucha.longaudio.settings`
(channel names, analysis settings) and :mod:`~escucha.longaudio.analyzer` (the core). Their
public names are importable from here as well, as they always were.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Sequence

from ..errors import AudioError, ConfigError
from .analyzer import CallAnalyzer
from .result import CallResult
from .segments import Segment, Window, segment_tiles
from .settings import BASELINE_DEFAULT, CHANNEL_MODES, analysis_settings, channel_names_for
from .stream import BlockReader
from .summary import summarize
from .vad import SileroVAD, VADConfig

__all__ = ["Window", "Segment", "CallResult", "CallAnalyzer", "analyze_file", "summarize", "segment_tiles",
           "channel_names_for", "analysis_settings", "CHANNEL_MODES"]


def analyze_file(path: str | os.PathLike, predictor, *, window: float | None = None, hop: float | None = None,
                 smooth: float = 3.0, channels: str = "auto", channel_names: Sequence[str] | str | None = None,
                 vad: VADConfig | None = None, vad_model: SileroVAD | None = None, block_seconds: float = 10.0,
                 on_progress: Callable[[float], None] | None = None, speakers="auto", agent_voice=None,
                 transcribe=None, baseline: bool = BASELINE_DEFAULT) -> CallResult:
    """Analyse one recording of any length in bounded memory.

    Parameters
    ----------
    path : path
        Any format libsndfile decodes: WAV (PCM, mu-law, A-law), FLAC, OGG, MP3, ...; any rate
        (8 kHz telephone audio included), mono or multi-channel.
    predictor : escucha.inference.Predictor
        From :func:`escucha.load_model`.
    window, hop, smooth, channels, channel_names, vad, vad_model, speakers, agent_voice, baseline
        See :class:`CallAnalyzer`. ``channels="auto"`` (default) analyses a stereo call whose
        channels carry different voices per channel, and one signal stored twice once;
        ``speakers="auto"`` (default) finds who speaks when on a mono channel.
    transcribe : escucha.asr.Transcriber or bool, optional
        Words with timestamps for each segment (``pip install 'escucha[asr]'``).
    block_seconds : float
        Seconds decoded per read (memory is proportional to this, not to the call's length).
    on_progress : callable, optional
        Called with the seconds of audio decoded after each block.

    Returns
    -------
    CallResult
        Segments (``start``/``end`` in seconds, ``channel``, ``label``, ``probabilities``),
        windows and the summary (see :func:`summarize`).

    Raises
    ------
    AudioError
        The file is missing, not decodable, empty or contains non-finite samples.
    ConfigError
        An option is out of range (the message names it).
    """
    if not isinstance(path, (str, os.PathLike)):
        raise ConfigError(f"analyze_file takes a path to a recording, got {type(path).__name__}; for samples "
                          "already in memory use CallAnalyzer(predictor, sample_rate=...): .feed(samples), "
                          ".finish(), .result()")
    path = Path(path)
    if block_seconds <= 0:
        raise ConfigError(f"block_seconds must be > 0, got {block_seconds}")
    with BlockReader(path) as reader:
        sr, fmt = reader.sample_rate, reader.format
        if sr <= 0:
            raise AudioError(f"{path}: header gives a sample rate of {sr} Hz")
        reader.block_frames = max(1, int(block_seconds * sr))
        analyzer = CallAnalyzer(predictor, sample_rate=sr, channels_in=reader.channels, window=window, hop=hop,
                                smooth=smooth, channels=channels, channel_names=channel_names, vad=vad,
                                vad_model=vad_model, name=str(path), speakers=speakers, agent_voice=agent_voice,
                                transcribe=transcribe, baseline=baseline)
        for block in reader:
            analyzer.feed(block)
            if on_progress is not None:
                on_progress(analyzer.duration)
    if analyzer.samples_in == 0:
        raise AudioError(f"{path}: audio is empty (0 samples)")
    analyzer.finish()
    res = analyzer.result(file=str(path), format=fmt)
    res.source = {"size": path.stat().st_size, "frames": analyzer.samples_in}
    return res

"""Speakers: who is speaking, from the voice alone.

- :mod:`~escucha.speakers.encoder`: the speaker encoder (Resemblyzer's GE2E LSTM in numpy,
  weights shipped in ``assets/speakers/``): audio -> 256-d embeddings.
- :mod:`~escucha.speakers.cluster`: embeddings -> speaker indices (agglomerative clustering,
  the number of speakers estimated by a distance threshold or given).
- :mod:`~escucha.speakers.options`: :class:`SpeakerOptions` and :func:`enrol` (an enrolment
  clip's embedding, e.g. the agent's voice).

Calls use them through :mod:`escucha.longaudio.attribution`.
"""

from .cluster import DEFAULT_THRESHOLD, centroids, cluster_speakers, estimate_count
from .options import SPEAKER_WINDOW, SpeakerOptions, enrol, speaker_options

__all__ = ["cluster_speakers", "estimate_count", "centroids", "DEFAULT_THRESHOLD", "SpeakerOptions", "speaker_options", "enrol", "SPEAKER_WINDOW",
           "SpeakerEncoder", "load_speaker_encoder"]


def __getattr__(name):
    if name in ("SpeakerEncoder", "load_speaker_encoder"):
        from . import encoder

        return getattr(encoder, name)
    raise AttributeError(name)

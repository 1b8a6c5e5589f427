"""The emotion vocabulary shared by corpora, models, metrics and plots."""

from __future__ import annotations

#: RAVDESS emotions, in the order of their file-name codes 01..08.
EMOTIONS: tuple[str, ...] = (
    "neutral",
    "calm",
    "happy",
    "sad",
    "angry",
    "fearful",
    "disgust",
    "surprised",
)

#: One fixed colour per emotion, used by every plot (colour-blind friendly: Okabe-Ito + grey).
EMOTION_COLORS: dict[str, str] = {
    "neutral": "#999999",
    "calm": "#56B4E9",
    "happy": "#E69F00",
    "sad": "#0072B2",
    "angry": "#D55E00",
    "fearful": "#CC79A7",
    "disgust": "#009E73",
    "surprised": "#F0E442",
    # labels of other corpora
    "boredom": "#8C6D31",
}

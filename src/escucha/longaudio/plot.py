"""Timeline figure of a call: emotion bands over time per channel, above a speech/silence track."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["plot_timeline"]


def plot_timeline(result, path: str | os.PathLike, *, title: str | None = None, dpi: int = 120) -> Path:
    """Write a PNG timeline of a :class:`~escucha.longaudio.CallResult` (atomically).

    One row per channel: coloured bands where that channel speaks, one colour per emotion
    (:data:`escucha.labels.EMOTION_COLORS`), drawn from the windows' smoothed labels, with the
    colour's opacity following the window's confidence; below each row a thin black track marks
    speech (VAD) against silence. The time axis is in seconds, or minutes for calls over 10 min.

    Returns the path written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    from ..labels import EMOTION_COLORS
    from ..utils.io import atomic_path
    from .segments import segment_tiles

    labels = list(result.labels)
    minutes = result.duration > 600
    scale = 1 / 60 if minutes else 1.0
    n = len(result.channels)
    fig, ax = plt.subplots(figsize=(12, 1.3 + 1.1 * n), dpi=dpi)
    used = set()
    for row, ch in enumerate(result.channels):
        y0 = (n - 1 - row) * 1.5
        for seg in (s for s in result.segments if s.channel == ch):
            for a, b, p in segment_tiles(seg):
                k = int(np.argmax(p))
                lab = labels[k]
                used.add(lab)
                ax.broken_barh([(a * scale, (b - a) * scale)], (y0 + 0.35, 0.9),
                               facecolors=EMOTION_COLORS.get(lab, "#444444"), alpha=0.35 + 0.65 * float(p[k]),
                               linewidth=0)
            ax.broken_barh([(seg.start * scale, seg.duration * scale)], (y0, 0.2), facecolors="black", linewidth=0)
    ax.set_yticks([(n - 1 - r) * 1.5 + 0.6 for r in range(n)])
    ax.set_yticklabels([f"{ch}\n(emotion / speech)" for ch in result.channels])
    ax.set_ylim(-0.3, (n - 1) * 1.5 + 1.5)
    ax.set_xlim(0, max(result.duration, 1e-3) * scale)
    ax.set_xlabel("time (min)" if minutes else "time (s)")
    ax.set_ylabel("channel")
    handles = [Patch(facecolor=EMOTION_COLORS.get(lab, "#444444"), label=lab) for lab in labels if lab in used]
    handles.append(Patch(facecolor="black", label="speech (VAD)"))
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.35 if n == 1 else -0.2),
              ncol=min(len(handles), 9), frameon=False, fontsize="small")
    name = Path(result.file).name if result.file else "live audio"
    dom = result.summary.get("dominant")
    ax.set_title(title or f"{name}: {result.duration:.0f} s, dominant emotion {dom or 'n/a'}")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", bbox_inches="tight")
    plt.close(fig)
    return path

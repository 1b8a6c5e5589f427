"""Figures of the reports, drawn with matplotlib's object API on the Agg canvas.

This is the only module of escucha that imports matplotlib; it is imported when a report is
made, never at start-up. No pyplot state is used: every function builds and returns its own
:class:`matplotlib.figure.Figure`, and :func:`to_png` renders it.

Conventions every figure follows: axes are labelled with their units, each emotion is drawn in
its fixed colour from :data:`escucha.labels.EMOTION_COLORS`, text is sized to be read at 100 %
zoom (figures are rendered at 100 dpi and shown at their natural size).
"""

from __future__ import annotations

import functools
import io
import textwrap
from typing import Callable, Sequence

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from ..labels import EMOTION_COLORS

__all__ = [
    "STYLE", "emotion_color", "to_png", "waveform_and_mel", "emotion_grid", "duration_histogram",
    "class_balance", "emotion_by_intensity", "cue_boxplots", "training_curves", "confusion_heatmaps",
    "per_class_bars", "fold_metrics", "fold_panel",
]

#: rcParams applied while a report figure is built and rendered.
STYLE = {
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.titleweight": "bold",
    "axes.labelsize": 11,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 10,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#dddddd",
    "grid.linewidth": 0.6,
    "axes.axisbelow": True,
    "image.cmap": "magma",
}

#: Colour for labels outside :data:`EMOTION_COLORS`, and for non-emotion categories.
OTHER_COLOR = "#4D4D4D"
EDGE = "#333333"
GENDER_COLORS = {"female": "#555555", "male": "#BBBBBB"}
#: Train / validation lines of the training curves (not emotions, so not emotion colours).
SPLIT_STYLE = {"train": dict(color="#1B1B1B", linestyle="-"), "val": dict(color="#1B1B1B", linestyle="--")}


def emotion_color(label: str) -> str:
    """The fixed colour of an emotion (hex string); dark grey for labels without one."""
    return EMOTION_COLORS.get(label, OTHER_COLOR)


def styled(fn: Callable[..., Figure]) -> Callable[..., Figure]:
    """Build the figure under :data:`STYLE` (rcParams are read when artists are created)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with matplotlib.rc_context(STYLE):
            return fn(*args, **kwargs)

    return wrapper


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def to_png(fig: Figure) -> bytes:
    """Render ``fig`` to PNG bytes (Agg, 100 dpi, white background)."""
    buf = io.BytesIO()
    with matplotlib.rc_context(STYLE):
        fig.savefig(buf, format="png", facecolor="white")
    return buf.getvalue()


def _color_ticklabels(axis_labels) -> None:
    """Put a pale patch of each emotion's colour behind its tick label (text stays black)."""
    for t in axis_labels:
        name = t.get_text().split("\n")[0]
        if name in EMOTION_COLORS:
            t.set_bbox(dict(facecolor=emotion_color(name), alpha=0.45, edgecolor="none", pad=1.5))


def _mel_ticks(ax, band_hz: np.ndarray) -> None:
    """Label a mel-band axis (bands 0..n-1, image extent 0..n) with frequencies in Hz."""
    marks = [f for f in (250, 500, 1000, 2000, 4000, 8000) if band_hz[0] <= f <= band_hz[-1]]
    pos = [float(np.interp(f, band_hz, np.arange(len(band_hz)))) + 0.5 for f in marks]
    ax.set_yticks(pos, [f"{f / 1000:g}k" if f >= 1000 else str(f) for f in marks])
    ax.grid(False)


# --------------------------------------------------------------------------------------- corpus

@styled
def waveform_and_mel(y: np.ndarray, sr: int, mel_db: np.ndarray, band_hz: np.ndarray, *,
                     hop_length: int, title: str = "", emotion: str | None = None,
                     trim: tuple[int, int] | None = None) -> Figure:
    """Waveform above its log-mel spectrogram.

    Parameters
    ----------
    y : np.ndarray, shape ``(T,)``
        Mono signal at ``sr`` Hz.
    mel_db : np.ndarray, shape ``(n_mels, frames)``
        Log-mel power in dB.
    band_hz : np.ndarray, shape ``(n_mels,)``
        Centre frequency of each mel band in Hz.
    hop_length : int
        Samples between spectrogram frames.
    trim : (start, end) or None
        Sample interval kept by silence trimming, shaded on the waveform.
    """
    fig = _figure(11, 5.6)
    ax_w, ax_m = fig.subplots(2, 1, sharex=True, height_ratios=[1, 1.6])
    t = np.arange(len(y)) / sr
    color = emotion_color(emotion) if emotion else OTHER_COLOR
    ax_w.plot(t, y, color=color, linewidth=0.5)
    if trim is not None and trim[1] > trim[0]:
        ax_w.axvspan(trim[0] / sr, trim[1] / sr, color="#000000", alpha=0.06, label="kept by trimming")
        ax_w.legend(loc="upper right")
    lim = max(float(np.max(np.abs(y))), 1e-3) * 1.05
    ax_w.set_ylim(-lim, lim)
    ax_w.set_ylabel("amplitude (full scale)")
    ax_w.set_title(title)
    dur = mel_db.shape[1] * hop_length / sr
    im = ax_m.imshow(mel_db, origin="lower", aspect="auto", extent=(0, dur, 0, mel_db.shape[0]),
                     interpolation="nearest")
    _mel_ticks(ax_m, band_hz)
    ax_m.set_ylabel("frequency (Hz, mel scale)")
    ax_m.set_xlabel("time (s)")
    ax_m.set_xlim(0, len(y) / sr)
    fig.colorbar(im, ax=ax_m, label="power (dB)", pad=0.01)
    return fig


@styled
def emotion_grid(panels: Sequence[dict], band_hz: np.ndarray, *, hop_length: int, sr: int,
                 suptitle: str = "") -> Figure:
    """One waveform + log-mel pair per emotion, on shared time and dB scales.

    Each panel is a dict with ``emotion``, ``y`` (``(T,)`` at ``sr``), ``mel_db``
    (``(n_mels, frames)``) and ``name`` (file name).
    """
    n = len(panels)
    cols = 2 if n > 1 else 1
    rows = int(np.ceil(n / cols))
    fig = _figure(12, 3.0 * rows + 0.6)
    grid = fig.subplots(2 * rows, cols, squeeze=False, height_ratios=[1, 2] * rows)
    t_max = max(len(p["y"]) / sr for p in panels)
    vmax = max(float(p["mel_db"].max()) for p in panels)
    vmin = vmax - 80.0
    im = None
    axes_m = []
    for i in range(n, rows * cols):
        grid[2 * (i // cols)][i % cols].set_axis_off()
        grid[2 * (i // cols) + 1][i % cols].set_axis_off()
    for i, p in enumerate(panels):
        ax_w, ax_m = grid[2 * (i // cols)][i % cols], grid[2 * (i // cols) + 1][i % cols]
        ax_w.sharex(ax_m)
        ax_w.tick_params(labelbottom=False)
        color = emotion_color(p["emotion"])
        y = p["y"]
        ax_w.plot(np.arange(len(y)) / sr, y, color=color, linewidth=0.4)
        lim = max(float(np.max(np.abs(y))), 1e-3) * 1.05
        ax_w.set_ylim(-lim, lim)
        ax_w.set_yticks([])
        ax_w.set_ylabel("wave", fontsize=9)
        ax_w.set_title(f"{p['emotion']}  ·  {p['name']}", fontsize=11, loc="left",
                       bbox=dict(facecolor=color, alpha=0.45, edgecolor="none", pad=2))
        m = p["mel_db"]
        im = ax_m.imshow(m, origin="lower", aspect="auto", vmin=vmin, vmax=vmax,
                         extent=(0, m.shape[1] * hop_length / sr, 0, m.shape[0]), interpolation="nearest")
        _mel_ticks(ax_m, band_hz)
        ax_m.set_xlim(0, t_max)
        ax_m.set_ylabel("Hz (mel)", fontsize=10)
        ax_m.set_xlabel("time (s)", fontsize=10)
        axes_m.append(ax_m)
    if suptitle:
        fig.suptitle(suptitle, fontsize=12, fontweight="bold")
    if im is not None:
        fig.colorbar(im, ax=list(grid.ravel()), label="power (dB)", shrink=0.5, location="right")
    return fig


@styled
def duration_histogram(raw: np.ndarray, trimmed: np.ndarray, *, trim_db: float) -> Figure:
    """Overlaid histograms of clip durations before and after silence trimming (seconds)."""
    fig = _figure(10, 4.2)
    ax = fig.subplots()
    hi = float(max(np.max(raw) if raw.size else 1.0, np.max(trimmed) if trimmed.size else 1.0))
    bins = np.arange(0.0, hi + 0.1, 0.1)
    ax.hist(raw, bins=bins, color="#4D4D4D", alpha=0.55, label=f"raw (mean {np.mean(raw):.2f} s)")
    ax.hist(trimmed, bins=bins, color="#0072B2", alpha=0.55,
            label=f"silence-trimmed at {trim_db:g} dB below peak (mean {np.mean(trimmed):.2f} s)")
    for v, c in ((np.mean(raw), "#4D4D4D"), (np.mean(trimmed), "#0072B2")):
        ax.axvline(v, color=c, linestyle="--", linewidth=1.2)
    ax.set_xlabel("duration (s)")
    ax.set_ylabel("clips")
    ax.set_title(f"Clip durations, raw vs trimmed (leading/trailing frames > {trim_db:g} dB "
                 f"below the loudest frame removed)", fontsize=11)
    ax.legend(loc="upper left")
    return fig


def _bars(ax, names, counts, colors, *, annotate=True):
    x = np.arange(len(names))
    ax.bar(x, counts, color=colors, edgecolor=EDGE, linewidth=0.6)
    ax.set_xticks(x, names)
    if annotate:
        for xi, c in zip(x, counts):
            ax.annotate(str(int(c)), (xi, c), xytext=(0, 2), textcoords="offset points",
                        ha="center", va="bottom", fontsize=9)
    ax.set_ylabel("clips")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.margins(y=0.15)


@styled
def class_balance(counts: dict[str, dict[str, int]], *, actor_gender: dict[str, str] | None = None) -> Figure:
    """Bar charts of clip counts per emotion, intensity, statement, gender and actor.

    ``counts`` maps each of those keys to an ordered ``{category: clips}`` dict; missing keys
    are left out.
    """
    fig = _figure(13, 7.5)
    mosaic = [["emotion", "emotion", "intensity", "gender"], ["statement", "actor", "actor", "actor"]]
    axd = fig.subplot_mosaic(mosaic)
    for key, ax in axd.items():
        c = counts.get(key) or {}
        if not c:
            ax.set_axis_off()
            ax.text(0.5, 0.5, f"no {key} labels", ha="center", va="center", transform=ax.transAxes)
            continue
        names = list(c)
        if key == "emotion":
            colors = [emotion_color(n) for n in names]
        elif key == "gender":
            colors = [GENDER_COLORS.get(n, OTHER_COLOR) for n in names]
        elif key == "actor" and actor_gender:
            colors = [GENDER_COLORS.get(actor_gender.get(n, ""), OTHER_COLOR) for n in names]
        else:
            colors = ["#888888"] * len(names)
        shown = [textwrap.fill(n, 18) for n in names]
        _bars(ax, shown, list(c.values()), colors, annotate=key != "actor" or len(names) <= 30)
        ax.set_title(f"by {key}")
        if key == "emotion":
            ax.tick_params(axis="x", labelrotation=20)
            _color_ticklabels(ax.get_xticklabels())
        if key == "actor":
            ax.set_xlabel("actor id")
            ax.tick_params(axis="x", labelsize=9)
            if actor_gender:
                ax.set_title("by actor (dark: female, light: male)")
    return fig


@styled
def emotion_by_intensity(table: dict[str, dict[str, int]], intensities: Sequence[str]) -> Figure:
    """Grouped bars: clips per emotion (emotion colour) and intensity (solid, hatched, dotted...)."""
    fig = _figure(11, 4.2)
    ax = fig.subplots()
    emotions = list(table)
    k = max(len(intensities), 1)
    width = 0.8 / k
    hatches = ["", "///", "...", "xx"]
    x = np.arange(len(emotions))
    for j, level in enumerate(intensities):
        vals = [table[e].get(level, 0) for e in emotions]
        pos = x - 0.4 + width * (j + 0.5)
        ax.bar(pos, vals, width=width, color=[emotion_color(e) for e in emotions], edgecolor=EDGE,
               linewidth=0.6, hatch=hatches[j % len(hatches)])
        for p, v in zip(pos, vals):
            ax.annotate(str(v), (p, v), xytext=(0, 2), textcoords="offset points", ha="center", fontsize=9)
    ax.set_xticks(x, emotions)
    _color_ticklabels(ax.get_xticklabels())
    ax.set_ylabel("clips")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title("Emotion by intensity")
    ax.legend(handles=[Patch(facecolor="white", edgecolor=EDGE, hatch=hatches[j % len(hatches)], label=lv)
                       for j, lv in enumerate(intensities)], title="intensity", loc="upper left",
              bbox_to_anchor=(1.0, 1.0))
    ax.margins(y=0.15)
    return fig


def _boxes(ax, groups: list[np.ndarray], positions, colors, *, hatch: str = "", width: float = 0.6):
    keep = [(g, p, c) for g, p, c in zip(groups, positions, colors) if len(g)]
    if not keep:
        return
    bp = ax.boxplot([g for g, _, _ in keep], positions=[p for _, p, _ in keep], widths=width,
                    patch_artist=True, showfliers=True, manage_ticks=False,
                    medianprops=dict(color="black", linewidth=1.4),
                    flierprops=dict(marker="o", markersize=2.5, markerfacecolor=EDGE, markeredgecolor="none"))
    for box, (_, _, c) in zip(bp["boxes"], keep):
        box.set_facecolor(c)
        box.set_edgecolor(EDGE)
        if hatch:
            box.set_hatch(hatch)


@styled
def cue_boxplots(emotions: Sequence[str], cues: dict[str, dict[str, list[float]]], *,
                 pitch_by_gender: dict[str, dict[str, list[float]]] | None = None,
                 units: dict[str, str] | None = None, note: str = "") -> Figure:
    """Per-emotion box plots of acoustic cues.

    Parameters
    ----------
    emotions : sequence of str
        Order of the boxes.
    cues : dict
        ``{axis label: {emotion: values}}``, one panel each.
    pitch_by_gender : dict or None
        ``{gender: {emotion: F0 values in Hz}}``: one more panel with a box per emotion and
        gender side by side (female solid, male hatched), since F0 depends on the voice.
    """
    panels = list(cues) + (["median F0 (Hz), by gender"] if pitch_by_gender else [])
    cols = 2
    rows = int(np.ceil(len(panels) / cols))
    fig = _figure(13, 3.9 * rows + (0.3 if note else 0))
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    x = np.arange(len(emotions))
    colors = [emotion_color(e) for e in emotions]
    for ax, name in zip(axes, panels):
        if name in cues:
            _boxes(ax, [np.asarray(cues[name].get(e, []), dtype=float) for e in emotions], x, colors)
            ax.set_ylabel(name)
        else:
            genders = [g for g in ("female", "male") if g in pitch_by_gender] or sorted(pitch_by_gender)
            w = 0.8 / len(genders)
            for j, g in enumerate(genders):
                _boxes(ax, [np.asarray(pitch_by_gender[g].get(e, []), dtype=float) for e in emotions],
                       x - 0.4 + w * (j + 0.5), colors, hatch="" if j == 0 else "///", width=w * 0.85)
            ax.set_ylabel("median F0 (Hz)")
            ax.legend(handles=[Patch(facecolor="white", edgecolor=EDGE, hatch="" if j == 0 else "///", label=g)
                               for j, g in enumerate(genders)], loc="upper right")
        ax.set_xticks(x, emotions)
        ax.set_xlim(-0.6, len(emotions) - 0.4)
        ax.tick_params(axis="x", labelrotation=20)
        _color_ticklabels(ax.get_xticklabels())
        ax.set_title(name.split(" (")[0])
    for ax in axes[len(panels):]:
        ax.set_axis_off()
    if note:
        fig.suptitle(note, fontsize=10, fontweight="normal")
    return fig


# ------------------------------------------------------------------------------------------ runs

def _curve_axes(ax_loss, ax_acc, history: list[dict], *, best_epoch: int | None, n_classes: int,
                legend: bool = True) -> None:
    ep = np.array([float(r["epoch"]) for r in history])

    def col(name):
        v = np.array([float(r[name]) if r.get(name) not in (None, "") else np.nan for r in history])
        return v if np.isfinite(v).any() else None

    marker = "o" if len(ep) <= 12 else None
    for split, name in (("train", "train_loss"), ("val", "val_loss")):
        v = col(name)
        if v is not None:
            ax_loss.plot(ep, v, marker=marker, markersize=4, label=f"{split}", **SPLIT_STYLE[split])
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("cross-entropy loss (nats)")
    ax_loss.set_title("Loss")
    series = [("train accuracy", "train_acc", "#1B1B1B", "-"), ("val accuracy", "val_acc", "#1B1B1B", "--"),
              ("val UAR", "val_uar", "#0072B2", "-")]
    for label, name, c, ls in series:
        v = col(name)
        if v is not None:
            ax_acc.plot(ep, 100 * v, color=c, linestyle=ls, marker=marker, markersize=4, label=label)
    if n_classes:
        ax_acc.axhline(100 / n_classes, color="#999999", linestyle=":", linewidth=1.2,
                       label=f"chance ({100 / n_classes:.1f} %)")
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("accuracy / UAR (%)")
    ax_acc.set_ylim(0, 100)
    ax_acc.set_title("Accuracy and unweighted average recall")
    for ax in (ax_loss, ax_acc):
        if best_epoch:
            ax.axvline(best_epoch, color="#D55E00", linestyle=":", linewidth=1.2, label=f"selected epoch {best_epoch}")
        if len(ep):
            ax.set_xticks(ep if len(ep) <= 12 else ax.get_xticks())
            ax.set_xlim(ep.min() - 0.3, ep.max() + 0.3)
        if legend:
            ax.legend(loc="best")


@styled
def training_curves(history: list[dict], *, best_epoch: int | None = None, n_classes: int = 0,
                    title: str = "") -> Figure:
    """Loss (left) and accuracy / UAR (right) per epoch, train solid and validation dashed.

    ``history`` rows are those of ``metrics.csv`` (``epoch, train_loss, train_acc, val_loss,
    val_acc, val_uar``; validation columns may be empty).
    """
    fig = _figure(12, 4.3)
    ax_loss, ax_acc = fig.subplots(1, 2)
    _curve_axes(ax_loss, ax_acc, history, best_epoch=best_epoch, n_classes=n_classes)
    if title:
        fig.suptitle(title)
    return fig


def _heatmap(ax, m: np.ndarray, labels: Sequence[str], *, fmt: str, title: str, vmax: float | None = None,
             fontsize: int = 10):
    im = ax.imshow(m, cmap="Blues", vmin=0, vmax=vmax if vmax is not None else max(float(m.max()), 1e-9))
    k = len(labels)
    ax.set_xticks(range(k), labels, rotation=35, ha="right")
    ax.set_yticks(range(k), labels)
    _color_ticklabels(ax.get_xticklabels())
    _color_ticklabels(ax.get_yticklabels())
    ax.set_xlabel("predicted emotion")
    ax.set_ylabel("true emotion")
    ax.set_title(title)
    ax.grid(False)
    ax.spines[:].set_visible(False)
    hi = float(im.norm.vmax)
    for i in range(k):
        for j in range(k):
            v = m[i, j]
            ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=fontsize,
                    color="white" if v > 0.55 * hi else "black")
    return im


@styled
def confusion_heatmaps(confusion: Sequence[Sequence[int]], labels: Sequence[str], *, title: str = "") -> Figure:
    """Confusion matrix as counts (left) and row-normalised recall in % (right); rows = true."""
    cm = np.asarray(confusion, dtype=float)
    rows = cm.sum(axis=1, keepdims=True)
    norm = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0) * 100
    k = len(labels)
    side = max(4.5, 0.5 * k + 1.6)
    fig = _figure(2 * side + 1.6, side)
    ax_c, ax_n = fig.subplots(1, 2)
    fs = 10 if k <= 8 else 8
    im_c = _heatmap(ax_c, cm, labels, fmt="{:.0f}", title="Counts", fontsize=fs)
    fig.colorbar(im_c, ax=ax_c, label="clips", shrink=0.8)
    im_n = _heatmap(ax_n, norm, labels, fmt="{:.0f}", title="Row-normalised (recall per true class)",
                    vmax=100, fontsize=fs)
    fig.colorbar(im_n, ax=ax_n, label="% of the true class", shrink=0.8)
    if title:
        fig.suptitle(title)
    return fig


@styled
def per_class_bars(per_class: dict[str, dict], labels: Sequence[str], *, title: str = "") -> Figure:
    """Precision (solid) and recall (hatched) per emotion, in %, with the support under each name."""
    fig = _figure(11, 4.3)
    ax = fig.subplots()
    x = np.arange(len(labels))
    colors = [emotion_color(lab) for lab in labels]
    for j, (metric, hatch) in enumerate((("precision", ""), ("recall", "///"))):
        vals = [100 * float(per_class[lab][metric]) for lab in labels]
        pos = x - 0.2 + 0.4 * j
        ax.bar(pos, vals, width=0.4, color=colors, edgecolor=EDGE, linewidth=0.6, hatch=hatch)
        for p, v in zip(pos, vals):
            ax.annotate(f"{v:.0f}", (p, v), xytext=(0, 2), textcoords="offset points", ha="center", fontsize=8)
    ax.set_xticks(x, [f"{lab}\n(n={per_class[lab].get('support', 0)})" for lab in labels])
    _color_ticklabels(ax.get_xticklabels())
    ax.set_ylim(0, 108)
    ax.set_ylabel("score (%)")
    ax.set_title(title or "Precision and recall per class")
    ax.legend(handles=[Patch(facecolor="white", edgecolor=EDGE, label="precision"),
                       Patch(facecolor="white", edgecolor=EDGE, hatch="///", label="recall")],
              loc="upper right", ncols=2)
    return fig


@styled
def fold_metrics(per_fold: Sequence[dict], mean_std: dict) -> Figure:
    """Accuracy, UAR and macro-F1 of each fold (bars, %) with the mean (line) ± std (band)."""
    fig = _figure(11, 4.0)
    ax = fig.subplots()
    metrics = [("accuracy", "#4D4D4D"), ("uar", "#0072B2"), ("macro_f1", "#009E73")]
    names = {"accuracy": "accuracy", "uar": "UAR", "macro_f1": "macro-F1"}
    folds = [int(r.get("fold", i)) for i, r in enumerate(per_fold)]
    x = np.arange(len(folds))
    w = 0.8 / len(metrics)
    for j, (m, c) in enumerate(metrics):
        vals = [100 * float(r[m]) for r in per_fold]
        ax.bar(x - 0.4 + w * (j + 0.5), vals, width=w, color=c, alpha=0.85, edgecolor=EDGE, linewidth=0.5,
               label=f"{names[m]}: {100 * mean_std[m]['mean']:.1f} ± {100 * mean_std[m]['std']:.1f} %")
        mu, sd = 100 * mean_std[m]["mean"], 100 * mean_std[m]["std"]
        ax.axhline(mu, color=c, linewidth=1.2)
        ax.axhspan(mu - sd, mu + sd, color=c, alpha=0.08)
    ax.set_xticks(x, [f"fold {f}" for f in folds])
    ax.set_ylabel("score on the fold's unseen speakers (%)")
    ax.set_ylim(0, 100)
    ax.set_title("Per-fold test scores; lines and bands: mean ± std over folds")
    ax.legend(loc="upper right", ncols=3)
    return fig


@styled
def fold_panel(history: list[dict], confusion, labels: Sequence[str], *, best_epoch: int | None,
               title: str) -> Figure:
    """One fold at a glance: loss, accuracy/UAR curves and the row-normalised confusion (%).

    With no ``history`` (a model fitted in closed form: no epochs), the confusion alone."""
    if history:
        fig = _figure(15, 4.4)
        ax_l, ax_a, ax_c = fig.subplots(1, 3, width_ratios=[1, 1, 1.05])
        _curve_axes(ax_l, ax_a, history, best_epoch=best_epoch, n_classes=len(labels))
        ax_l.legend(loc="upper right", fontsize=8)
        ax_a.legend(loc="upper left", fontsize=8)
    else:
        fig = _figure(5.5, 4.4)
        ax_c = fig.subplots(1, 1)
    if confusion is not None:
        cm = np.asarray(confusion, dtype=float)
        rows = cm.sum(axis=1, keepdims=True)
        norm = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0) * 100
        _heatmap(ax_c, norm, labels, fmt="{:.0f}", title="Confusion (% of true class)", vmax=100, fontsize=8)
        ax_c.tick_params(labelsize=8)
    else:
        ax_c.set_axis_off()
        ax_c.text(0.5, 0.5, "no test set", ha="center", va="center", transform=ax_c.transAxes)
    fig.suptitle(title)
    return fig

"""A small, dependency-free builder of self-contained HTML reports.

A report is one HTML file that opens offline: CSS and the little JavaScript it uses are inline,
figures are embedded as base64 PNG (and also written as files in ``figures/`` beside it). Audio
is never embedded; ``<audio>`` elements reference the source files.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence
from urllib.parse import quote

from .. import __version__
from ..errors import ConfigError
from ..labels import EMOTION_COLORS
from ..utils.io import atomic_write_bytes, atomic_write_text

__all__ = ["Raw", "esc", "HtmlReport", "table", "kv_table", "audio_tag", "emotion_tag", "check_writable", "preview_ogg", "AUDIO_MODES",
           "FIGURES_DIR"]

#: Folder, beside the HTML file, that receives a PNG copy of every figure.
FIGURES_DIR = "figures"

CSS = """
:root { --fg: #1b1b1b; --muted: #5a5a5a; --line: #d9d9d9; --bad: #fde0dc; --bad-line: #d55e00; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       color: var(--fg); margin: 0; background: #fafafa; }
header { background: #1b1b1b; color: #fff; padding: 18px 28px 14px; }
header h1 { margin: 0 0 4px; font-size: 24px; }
header p { margin: 0; color: #cfcfcf; font-size: 13px; }
nav { position: sticky; top: 0; z-index: 2; background: #fff; border-bottom: 1px solid var(--line);
      padding: 8px 28px; font-size: 14px; }
nav a { margin-right: 16px; color: #0b5cad; text-decoration: none; }
nav a:hover { text-decoration: underline; }
main { padding: 8px 28px 40px; max-width: 1560px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 6px; margin: 18px 0;
          padding: 6px 20px 16px; scroll-margin-top: 48px; }
section h2 { font-size: 19px; margin: 12px 0 8px; }
section h3 { font-size: 16px; margin: 14px 0 6px; }
p.note { color: var(--muted); font-size: 13.5px; margin: 4px 0 10px; }
figure { margin: 10px 0 14px; }
figure img { max-width: 100%; height: auto; display: block; border: 1px solid #eee; }
figcaption { color: var(--muted); font-size: 13.5px; margin-top: 4px; }
table { border-collapse: collapse; font-size: 14px; margin: 6px 0 12px; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: left; vertical-align: middle; }
th { background: #f2f2f2; }
.scroll th { position: sticky; top: 0; z-index: 1; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
table.kv th { width: 16em; }
tr.wrong td { background: var(--bad); }
tr.wrong td:first-child { box-shadow: inset 4px 0 0 var(--bad-line); }
table.only-wrong tr.ok { display: none; }
.emo { display: inline-block; padding: 0 7px; border-radius: 9px; font-size: 13px; white-space: nowrap; }
.emo::before { content: ""; display: inline-block; width: 9px; height: 9px; border-radius: 50%;
               margin-right: 5px; background: var(--c); border: 1px solid #333; vertical-align: -1px; }
audio { height: 30px; width: 230px; vertical-align: middle; }
pre { background: #f6f6f6; border: 1px solid var(--line); padding: 10px 12px; overflow: auto;
      font-size: 13px; max-height: 520px; }
.scroll { max-height: 640px; overflow: auto; border: 1px solid var(--line); }
.scroll table { margin: 0; }
label.filter { font-size: 14px; user-select: none; }
code { font-size: 13px; }
"""

JS = """
document.querySelectorAll('input[data-filter]').forEach(function (box) {
  var t = document.getElementById(box.getAttribute('data-filter'));
  if (!t) { return; }
  box.addEventListener('change', function () { t.classList.toggle('only-wrong', box.checked); });
});
"""


class Raw(str):
    """Text that is already HTML (not escaped again)."""


def esc(value) -> str:
    """HTML-escape ``value`` unless it is :class:`Raw`."""
    if isinstance(value, Raw):
        return value
    return html.escape("" if value is None else str(value), quote=True)


def emotion_tag(label: str) -> Raw:
    """An emotion name with a dot of its fixed colour."""
    c = EMOTION_COLORS.get(label, "#4D4D4D")
    return Raw(f'<span class="emo" style="--c:{c}">{esc(label)}</span>')


def _clip_token(k: int) -> str:
    return f"escucha-clip:{k}:"


def audio_src(path: str | os.PathLike, html_dir: str | os.PathLike) -> str:
    """URL of an audio file as seen from a report in ``html_dir``.

    Relative when the file and the report share a folder other than the file-system root (so
    moving both together keeps the links), else an absolute ``file://`` URL.
    """
    p = Path(path).absolute()
    d = Path(html_dir).absolute()
    try:
        common = Path(os.path.commonpath([p, d]))
    except ValueError:  # different drives
        common = Path(p.anchor)
    if common != Path(common.anchor):
        return quote(Path(os.path.relpath(p, d)).as_posix())
    return p.as_uri()


def audio_tag(path: str | os.PathLike, html_dir: str | os.PathLike) -> Raw:
    """``<audio controls preload="none">`` playing ``path`` by a link relative to ``html_dir`` (see
    :meth:`HtmlReport.audio` for players that travel with the report)."""
    return Raw(f'<audio controls preload="none" src="{esc(audio_src(path, html_dir))}"></audio>')


#: players a report embeds (as data: URLs) before it writes them beside itself instead
MAX_EMBEDDED_CLIPS = 400
#: longest stretch of a clip a report's player carries (seconds)
PREVIEW_SECONDS = 30.0
#: folder beside the report for players that are not embedded
AUDIO_DIR = "audio"
AUDIO_MODES = ("auto", "embed", "folder", "link")


def preview_ogg(path: str | os.PathLike, *, seconds: float = PREVIEW_SECONDS) -> bytes:
    """A small copy of a clip for a report's player: its first ``seconds``, mono, 16 kHz, Ogg Opus
    (about 2.4 kB a second of speech, playable in every current browser).

    Raises
    ------
    AudioError
        The clip cannot be decoded (the message names it).
    """
    import io

    import soundfile as sf

    from ..audio import load_audio

    y, sr = load_audio(path, sample_rate=16000)
    y = y[: int(seconds * sr)]
    buf = io.BytesIO()
    sf.write(buf, y, sr, format="OGG", subtype="OPUS")
    return buf.getvalue()


def table(header: Sequence, rows: Iterable[Sequence], *, id: str | None = None, numeric: Iterable[int] = (),
          row_classes: Sequence[str] | None = None, cls: str = "") -> Raw:
    """An HTML table; cells are escaped unless :class:`Raw`; columns in ``numeric`` align right."""
    num = set(numeric)
    h = "".join(f'<th{" class=num" if i in num else ""}>{esc(c)}</th>' for i, c in enumerate(header))
    body = []
    for k, row in enumerate(rows):
        rc = f' class="{row_classes[k]}"' if row_classes and row_classes[k] else ""
        cells = "".join(f'<td{" class=num" if i in num else ""}>{esc(c)}</td>' for i, c in enumerate(row))
        body.append(f"<tr{rc}>{cells}</tr>")
    attrs = (f' id="{esc(id)}"' if id else "") + (f' class="{esc(cls)}"' if cls else "")
    return Raw(f"<table{attrs}><thead><tr>{h}</tr></thead><tbody>{''.join(body)}</tbody></table>")


def kv_table(items: Iterable[tuple[str, object]]) -> Raw:
    """A two-column table of names and values."""
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in items)
    return Raw(f'<table class="kv"><tbody>{rows}</tbody></table>')


@dataclass
class HtmlReport:
    """Sections and figures of one report, rendered to one self-contained HTML file.

    Attributes
    ----------
    title : str
        Page title and heading.
    subtitle : str
        One line under the heading (what the report is of).
    base_dir : path
        Folder the HTML file will be written to (audio links are made relative to it).
    audio_mode : str
        How players reach their audio, so that a report plays wherever it is opened: ``embed``
        (a small Opus copy inside the HTML: the file travels alone), ``folder`` (the copies in
        ``audio/`` beside the HTML: send the folder), ``link`` (the original files, by paths
        relative to the report: for a report kept beside its data) or ``auto`` (default: embed up
        to :data:`MAX_EMBEDDED_CLIPS` players, else folder).
    """

    title: str
    subtitle: str = ""
    base_dir: Path = Path(".")
    audio_mode: str = "auto"
    sections: list[tuple[str, str, str, str]] = field(default_factory=list)
    figures: dict[str, bytes] = field(default_factory=dict)
    clips: list[str] = field(default_factory=list)

    def __post_init__(self):
        if self.audio_mode not in AUDIO_MODES:
            raise ConfigError(f"audio mode {self.audio_mode!r} is unknown; choose one of {', '.join(AUDIO_MODES)}")

    def figure(self, name: str, png: bytes, *, caption: str = "", alt: str = "") -> Raw:
        """Register a PNG under ``figures/<name>.png`` and return its embedded ``<figure>``."""
        if name in self.figures:
            raise ValueError(f"figure name {name!r} used twice")
        self.figures[name] = png
        b64 = base64.b64encode(png).decode("ascii")
        w, h = _png_size(png)
        cap = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
        return Raw(f'<figure id="fig-{esc(name)}"><img src="data:image/png;base64,{b64}" width="{w}" '
                   f'height="{h}" alt="{esc(alt or caption or name)}" data-file="{FIGURES_DIR}/{esc(name)}.png">'
                   f"{cap}</figure>")

    def audio(self, path: str | os.PathLike) -> Raw:
        """An ``<audio>`` element playing ``path`` as :attr:`audio_mode` says (decided when the
        report is rendered, once the number of players is known)."""
        if self.audio_mode == "link":
            return audio_tag(path, self.base_dir)
        self.clips.append(str(path))
        return Raw(f'<audio controls preload="none" src="{_clip_token(len(self.clips) - 1)}"></audio>')

    def resolved_audio_mode(self) -> str:
        if self.audio_mode != "auto":
            return self.audio_mode
        return "embed" if len(self.clips) <= MAX_EMBEDDED_CLIPS else "folder"

    def _audio_files(self) -> list[tuple[str, bytes | None, str]]:
        """``(file name in audio/, Opus bytes or None, problem)`` per player."""
        out = []
        for k, path in enumerate(self.clips):
            name = f"{k:05d}-{Path(path).stem[:60]}.ogg"
            try:
                out.append((name, preview_ogg(path), ""))
            except Exception as e:  # a player without audio, never a failed report
                out.append((name, None, str(e).splitlines()[0] if str(e) else type(e).__name__))
        return out

    def _with_audio(self, text: str, files: list[tuple[str, bytes | None, str]], mode: str) -> str:
        import re

        def player(m):
            name, data, problem = files[int(m.group(1))]
            if data is None:
                return f'<span class="note">(no audio: {esc(problem)})</span>'
            src = ("data:audio/ogg;base64," + base64.b64encode(data).decode("ascii") if mode == "embed"
                   else quote(f"{AUDIO_DIR}/{name}"))
            return f'<audio controls preload="none" src="{src}"></audio>'

        return re.sub(r'<audio controls preload="none" src="escucha-clip:(\d+):"></audio>', player, text)

    def add(self, id: str, heading: str, *parts: str, nav: str | None = None) -> None:
        """Append a section ``<section id=id>`` with a heading and HTML ``parts``; ``nav`` is its
        (shorter) name in the navigation bar."""
        self.sections.append((id, heading, "\n".join(str(p) for p in parts), nav or heading))

    def render(self, _files: list | None = None) -> str:
        """The HTML page (with ``embed``, the players' audio inside it)."""
        mode = self.resolved_audio_mode()
        page = self._render()
        if self.clips:
            page = self._with_audio(page, self._audio_files() if _files is None else _files, mode)
        return page

    def _render(self) -> str:
        now = _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
        nav = "".join(f'<a href="#{esc(i)}">{esc(n)}</a>' for i, _, _, n in self.sections)
        body = "\n".join(f'<section id="{esc(i)}">\n<h2>{esc(h)}</h2>\n{c}\n</section>' for i, h, c, _ in self.sections)
        return (
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{esc(self.title)}</title>\n<link rel=\"icon\" href=\"data:,\">\n<style>{CSS}</style>\n</head>\n<body>\n"
            f"<header><h1>{esc(self.title)}</h1><p>{esc(self.subtitle)}"
            f"{' · ' if self.subtitle else ''}made {esc(now)} by escucha {esc(__version__)}</p></header>\n"
            f"<nav>{nav}</nav>\n<main>\n{body}\n</main>\n<script>{JS}</script>\n</body>\n</html>\n"
        )

    def write(self, html_path: str | os.PathLike, *, force: bool = False) -> Path:
        """Write the PNGs into ``figures/`` beside ``html_path``, then the HTML, each atomically.

        Raises :class:`ConfigError` if ``html_path`` exists and ``force`` is false.
        """
        html_path = Path(html_path)
        check_writable(html_path, force=force)
        fig_dir = html_path.parent / FIGURES_DIR
        for name, png in self.figures.items():
            atomic_write_bytes(fig_dir / f"{name}.png", png)
        files = self._audio_files() if self.clips else []
        if files and self.resolved_audio_mode() == "folder":
            for name, data, _ in files:
                if data is not None:
                    atomic_write_bytes(html_path.parent / AUDIO_DIR / name, data)
        return atomic_write_text(html_path, self.render(files))


def check_writable(html_path: str | os.PathLike, *, force: bool) -> None:
    """Refuse to replace an existing report unless ``force``."""
    p = Path(html_path)
    if p.exists() and not force:
        raise ConfigError(f"{p}: a report already exists; pass --force to replace it")
    if p.exists() and p.is_dir():
        raise ConfigError(f"{p}: is a folder, cannot write a report there")


def _png_size(png: bytes) -> tuple[int, int]:
    """Width and height in pixels from a PNG's IHDR chunk."""
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")

"""A batch's progress bar on stderr: audio hours done of the total, files done, errors, speed
(x real time) and the time left."""

from __future__ import annotations

import time

from ..utils.progress import progress

__all__ = ["BatchProgress"]


class BatchProgress:
    """Progress of ``n_files`` files holding ``seconds`` of audio in all, begun at ``t0``
    (:func:`time.time`); ``show=False`` draws nothing."""

    def __init__(self, *, seconds: float, n_files: int, t0: float, show: bool = True):
        self.n_files, self.t0 = n_files, t0
        # hours as they are (a rounded total fell behind the sum of the files: tqdm then warned
        # "clamping frac" and showed a negative time left)
        self.bar = progress(total=seconds / 3600, desc="analysing", unit="h", disable=None if show else True,
                            bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.2f}/{total:.2f} h audio "
                                       "[{elapsed}<{remaining}]{postfix}")

    def file_done(self, seconds: float, report) -> None:
        """One more file (``seconds`` of audio) done, analysed or failed; ``report``: the
        :class:`~escucha.longaudio.BatchReport` so far."""
        left = max(0.0, (self.bar.total or 0.0) - self.bar.n)
        speed = report.audio_seconds / max(time.time() - self.t0, 1e-9)
        # the counts first, then the update that draws them (the other way round, the bar showed
        # the file counts and errors of one file before)
        self.bar.set_postfix_str(f"files {len(report.analysed) + len(report.errors)}/{self.n_files}, "
                                 f"errors {len(report.errors)}, {speed:.0f}x real time", refresh=False)
        self.bar.update(min(seconds / 3600, left))  # never past the total

    def close(self) -> None:
        self.bar.close()

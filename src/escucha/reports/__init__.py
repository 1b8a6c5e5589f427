"""Figures and self-contained HTML reports: a corpus (``escucha explore``) and a run (``escucha report``).

matplotlib is imported only when a report is made (by :mod:`escucha.reports.plots`), never when
this package is imported, so the command line starts fast.
"""

from .explore import write_explore_report
from .run_report import write_run_report

__all__ = ["write_explore_report", "write_run_report"]

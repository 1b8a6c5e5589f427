"""The settings of one running service: where it listens, what it accepts, how much it queues."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..errors import ConfigError

__all__ = ["ServiceConfig", "LOCAL_HOSTS", "upload_limit_for", "TELEPHONE_BYTES_PER_SECOND"]

#: bytes a second of the recordings the default upload limit is sized for: 16-kHz 16-bit stereo PCM
SIZED_FOR_BYTES_PER_SECOND = 16000 * 2 * 2
#: bytes a second of a stereo G.711 call (8 kHz, 8-bit mu-law or A-law): the least a limit must allow
TELEPHONE_BYTES_PER_SECOND = 8000 * 1 * 2


def upload_limit_for(max_seconds: float) -> float:
    """MB an upload may take so that ``max_seconds`` of 16-kHz 16-bit stereo PCM WAV fits (plus 1 MB
    for headers and multipart framing; at least 50 MB). An hour: 231.4 MB."""
    return max(50.0, round(max_seconds * SIZED_FOR_BYTES_PER_SECOND / 1e6 + 1.0, 1))

#: hosts that only this machine can reach (anything else is worth a warning without a token)
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass
class ServiceConfig:
    """What ``escucha serve`` accepts and how much work it takes on.

    Attributes
    ----------
    host, port : str, int
        Address to listen on (default ``127.0.0.1:8000``: this machine only).
    workers : int
        Inference jobs run at the same time (threads sharing the loaded model). ``1`` runs one
        job at a time.
    queue : int
        Requests that may wait for a worker; beyond ``workers + queue`` requests in the house
        the service answers ``503`` with ``Retry-After`` instead of growing memory.
    max_upload_mb : float or None
        Largest upload (MB, 10**6 bytes); larger ones get ``413``. ``None`` (default): what
        ``max_seconds`` of 16-kHz 16-bit stereo PCM takes (:func:`upload_limit_for`), so that any
        recording the length limit allows at telephone or wide-band rate also fits.
    max_seconds : float
        Longest audio accepted (seconds of the decoded file or stream); longer gets ``413``.
    timeout : float
        Seconds a request may wait for its result (queueing included) before ``503``.
    sync_seconds : float
        ``/v1/analyze`` answers at once for audio up to this length; longer calls become jobs
        (``202`` + job id) unless ``mode=sync`` is asked for.
    max_jobs : int
        Jobs kept (queued, running or finished and not yet collected); a new job beyond this
        gets ``503``.
    job_ttl : float
        Seconds a finished job's result is kept.
    max_streams : int
        WebSocket streams open at the same time.
    token : str or None
        Bearer token required on every endpoint but ``/healthz`` and the static page.
    cors_origins : list of str
        Origins allowed to call the API from a browser (none by default: CORS closed).
    data : str or None
        Data folder of the store (:mod:`escucha.store`): its SQLite file (unless ``db`` names a
        database) and the uploads of queued jobs. ``None`` with ``db`` ``None``: no store (results
        are answered and forgotten, jobs live in memory).
    db : str or None
        Database URL of the store (``sqlite:///PATH``, ``postgresql://...``); with PostgreSQL the
        data folder must be given too (and shared by every server on that database).
    job_lease : float
        Seconds a stored job stays claimed by a server without its heartbeat; a killed server's
        job runs again after this.
    job_workers : int
        Stored jobs run at once by this server.
    keep_audio : bool
        Keep the uploads of finished stored jobs in the data folder (default: deleted).
    agent_voice : str or None
        A clip of the agent's voice (``escucha analyze --agent-voice``), enrolled once when the
        service starts: in every analysis (uploads, queued jobs, streams) the speaker or channel
        closest to it is named ``agent`` and the other ``customer``, so that mono calls get roles.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 2
    queue: int = 16
    max_upload_mb: float | None = None
    max_seconds: float = 3600.0
    timeout: float = 120.0
    sync_seconds: float = 120.0
    max_jobs: int = 8
    job_ttl: float = 3600.0
    max_streams: int = 4
    token: str | None = None
    cors_origins: list[str] = field(default_factory=list)
    data: str | None = None
    db: str | None = None
    job_lease: float = 60.0
    job_workers: int = 1
    keep_audio: bool = False
    agent_voice: str | None = None

    def __post_init__(self):
        for name in ("workers", "max_jobs", "max_streams", "job_workers"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise ConfigError(f"{name} must be a whole number >= 1, got {v!r}")
        if not isinstance(self.queue, int) or self.queue < 0:
            raise ConfigError(f"queue must be a whole number >= 0, got {self.queue!r}")
        if not isinstance(self.port, int) or not 0 <= self.port <= 65535:
            raise ConfigError(f"port must be between 0 and 65535, got {self.port!r}")
        if self.max_upload_mb is None and isinstance(self.max_seconds, (int, float)) and math.isfinite(self.max_seconds) \
                and self.max_seconds > 0:
            self.max_upload_mb = upload_limit_for(self.max_seconds)
        for name in ("max_upload_mb", "max_seconds", "timeout", "sync_seconds", "job_ttl", "job_lease"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ConfigError(f"{name} must be a finite number > 0, got {v!r}")
        if self.token is not None and not self.token.strip():
            raise ConfigError("the bearer token is empty; give a non-empty --token or unset ESCUCHA_TOKEN")
        self.cors_origins = [o.strip() for o in self.cors_origins if o.strip()]
        if self.db is not None and self.data is None and not str(self.db).startswith("sqlite:///"):
            raise ConfigError("a database other than SQLite needs a data folder too (--data DIR), where queued "
                              "uploads wait; every server sharing the database must share that folder")

    @property
    def store_wanted(self) -> bool:
        return self.data is not None or self.db is not None

    def upload_folder(self) -> str:
        """Where queued uploads wait: the data folder, else the SQLite file's folder."""
        if self.data is not None:
            return self.data
        from pathlib import Path

        return str(Path(str(self.db)[len("sqlite:///"):].split("?", 1)[0]).resolve().parent)

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1_000_000)

    @property
    def capacity(self) -> int:
        """Requests in the house (uploading, waiting or running) before ``503``."""
        return self.workers + self.queue

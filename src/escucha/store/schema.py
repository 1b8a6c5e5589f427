"""The tables of the store (SQLAlchemy 2 declarative models).

What is kept, per analysed call (never the audio; an upload waiting for its job is kept on disk
in the data folder only until the job is done, see :mod:`escucha.store.jobs`):

``settings``  one row per distinct analysis setting: model identity, window, hop, smoothing,
              channel mode, VAD, escucha version (the ``settings`` of a result JSON, without the
              channel names), keyed by a hash of it.
``calls``     one row per analysed call: the file's name as given, where it came from, its
              content hash, when it was stored, the columns the calls list filters and sorts on
              (duration, dominant emotion, share and change of negative and high-arousal speech),
              and the rest of the result JSON (summary, labels, channels, windows, source).
``speakers``  one row per speaker (channel) of a call: name, role (empty until speakers are
              told apart), its summary block.
``segments``  one row per speech segment: time, channel, speaker and role (nullable), label,
              confidence, probabilities, arousal and negative scores, words (nullable), and the
              segment exactly as the analysis gave it (``data``).
``jobs``      queued, running, done and failed analyses of the service, with their lease.

Times are seconds since the epoch (UTC) in double precision: portable between SQLite and
PostgreSQL and simple to compare. JSON columns are JSONB on PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Double, ForeignKey, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = ["Base", "Settings", "Call", "Speaker", "SegmentRow", "Job", "JOB_STATUSES"]

Json = JSON().with_variant(JSONB(), "postgresql")
JOB_STATUSES = ("queued", "running", "done", "failed")


class Base(DeclarativeBase):
    pass


class Settings(Base):
    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    model_id: Mapped[str | None] = mapped_column(String(64))
    model_name: Mapped[str | None] = mapped_column(String(200))
    escucha_version: Mapped[str | None] = mapped_column(String(32))
    settings: Mapped[dict] = mapped_column(Json)
    created_at: Mapped[float] = mapped_column(Double)


class Call(Base):
    __tablename__ = "calls"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    file: Mapped[str] = mapped_column(String(1000), index=True)
    source: Mapped[str | None] = mapped_column(String(2000), index=True)
    digest: Mapped[str | None] = mapped_column(String(64))
    settings_key: Mapped[str] = mapped_column(ForeignKey("settings.key"), index=True)
    job_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    created_at: Mapped[float] = mapped_column(Double, index=True)
    duration: Mapped[float] = mapped_column(Double)
    speech_seconds: Mapped[float] = mapped_column(Double)
    segment_count: Mapped[int] = mapped_column(Integer)
    dominant: Mapped[str | None] = mapped_column(String(32), index=True)
    first_dominant: Mapped[str | None] = mapped_column(String(32))
    last_dominant: Mapped[str | None] = mapped_column(String(32))
    negative_share: Mapped[float | None] = mapped_column(Double, index=True)
    negative_change: Mapped[float | None] = mapped_column(Double, index=True)
    high_arousal_share: Mapped[float | None] = mapped_column(Double)
    high_arousal_change: Mapped[float | None] = mapped_column(Double)
    outcome: Mapped[str | None] = mapped_column(String(32))
    labels: Mapped[list] = mapped_column(Json)
    channels: Mapped[list] = mapped_column(Json)
    summary: Mapped[dict] = mapped_column(Json)
    document: Mapped[dict] = mapped_column(Json)

    speakers: Mapped[list["Speaker"]] = relationship(back_populates="call", cascade="all, delete-orphan",
                                                     passive_deletes=True, order_by="Speaker.id")
    segments: Mapped[list["SegmentRow"]] = relationship(back_populates="call", cascade="all, delete-orphan",
                                                        passive_deletes=True, order_by="SegmentRow.idx")


class Speaker(Base):
    __tablename__ = "speakers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    role: Mapped[str | None] = mapped_column(String(64), index=True)
    speech_seconds: Mapped[float | None] = mapped_column(Double)
    dominant: Mapped[str | None] = mapped_column(String(32))
    negative_share: Mapped[float | None] = mapped_column(Double)
    negative_change: Mapped[float | None] = mapped_column(Double)
    summary: Mapped[dict] = mapped_column(Json)

    call: Mapped[Call] = relationship(back_populates="speakers")


class SegmentRow(Base):
    __tablename__ = "segments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    idx: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(200))
    speaker: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str | None] = mapped_column(String(64))
    start: Mapped[float] = mapped_column(Double)
    end: Mapped[float] = mapped_column(Double)
    label: Mapped[str | None] = mapped_column(String(32))
    confidence: Mapped[float | None] = mapped_column(Double)
    probabilities: Mapped[dict | None] = mapped_column(Json)
    arousal: Mapped[float | None] = mapped_column(Double)
    negative: Mapped[float | None] = mapped_column(Double)
    words: Mapped[list | None] = mapped_column(Json)
    data: Mapped[dict] = mapped_column(Json)

    call: Mapped[Call] = relationship(back_populates="segments")


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_status_created_at", "status", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    file: Mapped[str] = mapped_column(String(1000))
    audio_path: Mapped[str | None] = mapped_column(String(2000))
    options: Mapped[dict] = mapped_column(Json)
    keep_audio: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[float] = mapped_column(Double, index=True)
    started_at: Mapped[float | None] = mapped_column(Double)
    finished_at: Mapped[float | None] = mapped_column(Double)
    lease_until: Mapped[float | None] = mapped_column(Double)
    worker: Mapped[str | None] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    code: Mapped[int | None] = mapped_column(Integer)
    call_id: Mapped[str | None] = mapped_column(String(32))

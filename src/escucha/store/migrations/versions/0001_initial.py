"""The store's first schema: settings, calls, speakers, segments, jobs.

Revision ID: 0001
Revises:
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")
D = sa.Double


def upgrade() -> None:
    op.create_table(
        "settings",
        sa.Column("key", sa.String(32), primary_key=True),
        sa.Column("model_id", sa.String(64)),
        sa.Column("model_name", sa.String(200)),
        sa.Column("escucha_version", sa.String(32)),
        sa.Column("settings", Json, nullable=False),
        sa.Column("created_at", D, nullable=False),
    )
    op.create_table(
        "calls",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("file", sa.String(1000), nullable=False),
        sa.Column("source", sa.String(2000)),
        sa.Column("digest", sa.String(64)),
        sa.Column("settings_key", sa.String(32), sa.ForeignKey("settings.key"), nullable=False),
        sa.Column("job_id", sa.String(32), unique=True),
        sa.Column("created_at", D, nullable=False),
        sa.Column("duration", D, nullable=False),
        sa.Column("speech_seconds", D, nullable=False),
        sa.Column("segment_count", sa.Integer, nullable=False),
        sa.Column("dominant", sa.String(32)),
        sa.Column("first_dominant", sa.String(32)),
        sa.Column("last_dominant", sa.String(32)),
        sa.Column("negative_share", D),
        sa.Column("negative_change", D),
        sa.Column("high_arousal_share", D),
        sa.Column("high_arousal_change", D),
        sa.Column("outcome", sa.String(32)),
        sa.Column("labels", Json, nullable=False),
        sa.Column("channels", Json, nullable=False),
        sa.Column("summary", Json, nullable=False),
        sa.Column("document", Json, nullable=False),
    )
    op.create_index("ix_calls_file", "calls", ["file"])
    op.create_index("ix_calls_source", "calls", ["source"])
    op.create_index("ix_calls_settings_key", "calls", ["settings_key"])
    op.create_index("ix_calls_created_at", "calls", ["created_at"])
    op.create_index("ix_calls_dominant", "calls", ["dominant"])
    op.create_table(
        "speakers",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("call_id", sa.String(32), sa.ForeignKey("calls.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(64)),
        sa.Column("speech_seconds", D),
        sa.Column("dominant", sa.String(32)),
        sa.Column("negative_share", D),
        sa.Column("negative_change", D),
        sa.Column("summary", Json, nullable=False),
    )
    op.create_index("ix_speakers_call_id", "speakers", ["call_id"])
    op.create_index("ix_speakers_name", "speakers", ["name"])
    op.create_index("ix_speakers_role", "speakers", ["role"])
    op.create_table(
        "segments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("call_id", sa.String(32), sa.ForeignKey("calls.id", ondelete="CASCADE"), nullable=False),
        sa.Column("idx", sa.Integer, nullable=False),
        sa.Column("channel", sa.String(200), nullable=False),
        sa.Column("speaker", sa.String(200)),
        sa.Column("role", sa.String(64)),
        sa.Column("start", D, nullable=False),
        sa.Column("end", D, nullable=False),
        sa.Column("label", sa.String(32)),
        sa.Column("confidence", D),
        sa.Column("probabilities", Json),
        sa.Column("arousal", D),
        sa.Column("negative", D),
        sa.Column("words", Json),
        sa.Column("data", Json, nullable=False),
    )
    op.create_index("ix_segments_call_id", "segments", ["call_id"])
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("file", sa.String(1000), nullable=False),
        sa.Column("audio_path", sa.String(2000)),
        sa.Column("options", Json, nullable=False),
        sa.Column("keep_audio", sa.Boolean, nullable=False),
        sa.Column("created_at", D, nullable=False),
        sa.Column("started_at", D),
        sa.Column("finished_at", D),
        sa.Column("lease_until", D),
        sa.Column("worker", sa.String(200)),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("code", sa.Integer),
        sa.Column("call_id", sa.String(32)),
    )
    op.create_index("ix_jobs_status", "jobs", ["status"])
    op.create_index("ix_jobs_created_at", "jobs", ["created_at"])


def downgrade() -> None:
    for t in ("jobs", "segments", "speakers", "calls", "settings"):
        op.drop_table(t)

"""Indexes for the calls list's filters: negative share and its change, and the lease order of
queued jobs.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06
"""
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_calls_negative_share", "calls", ["negative_share"])
    op.create_index("ix_calls_negative_change", "calls", ["negative_change"])
    op.create_index("ix_jobs_status_created_at", "jobs", ["status", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_jobs_status_created_at", "jobs")
    op.drop_index("ix_calls_negative_change", "calls")
    op.drop_index("ix_calls_negative_share", "calls")

"""generated reports (report_runs: who asked for which period and sections, progress, the file
and its first-page preview)

Revision ID: 0030
Revises: 0029
"""

import sqlalchemy as sa
from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("sections", sa.JSON(), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=200), nullable=True),
        sa.Column("requested_by", sa.String(length=64), nullable=True),
        sa.Column("schedule_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("duration_seconds", sa.Float(), nullable=True),
        sa.Column("size_bytes", sa.Integer(), nullable=True),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.Column("preview_png", sa.LargeBinary(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('daily', 'weekly', 'monthly', 'custom')", name=op.f("ck_report_runs_kind")
        ),
        sa.CheckConstraint("format IN ('pdf', 'xlsx')", name=op.f("ck_report_runs_format")),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed')",
            name=op.f("ck_report_runs_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_runs")),
    )
    with op.batch_alter_table("report_runs", schema=None) as batch_op:
        batch_op.create_index("ix_report_runs_created_at", ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("report_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_report_runs_created_at")
    op.drop_table("report_runs")

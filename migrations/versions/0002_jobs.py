"""scheduler: job runs and scheduler node heartbeats

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_runs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("job_name", sa.String(length=64), nullable=False),
        sa.Column("run_trigger", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=True),
        sa.Column("host", sa.String(length=128), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("scheduled_for", sa.DateTime(), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("late_ms", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "status IN ('running', 'succeeded', 'failed', 'timed_out', 'skipped')",
            name=op.f("ck_job_runs_status"),
        ),
        sa.CheckConstraint(
            "run_trigger IN ('scheduled', 'manual')", name=op.f("ck_job_runs_run_trigger")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_runs")),
    )
    op.create_index("ix_job_runs_job_started", "job_runs", ["job_name", "started_at"])
    op.create_index("ix_job_runs_started_at", "job_runs", ["started_at"])
    op.create_table(
        "scheduler_nodes",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("host", sa.String(length=128), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("is_leader", sa.Boolean(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("leader_since", sa.DateTime(), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(), nullable=False),
        sa.Column("tick_seconds", sa.Float(), nullable=False),
        sa.Column("next_runs", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduler_nodes")),
    )
    op.create_index(op.f("ix_scheduler_nodes_heartbeat_at"), "scheduler_nodes", ["heartbeat_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_scheduler_nodes_heartbeat_at"), table_name="scheduler_nodes")
    op.drop_table("scheduler_nodes")
    op.drop_index("ix_job_runs_started_at", table_name="job_runs")
    op.drop_index("ix_job_runs_job_started", table_name="job_runs")
    op.drop_table("job_runs")

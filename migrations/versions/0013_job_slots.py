"""job slots: a 'missed' run status, a slot count for summarized gaps, and an index on each
job's scheduled slots (the Jobs page shows the last slots of every job)

Revision ID: 0013
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0010"
branch_labels = None
depends_on = None

OLD = "status IN ('running', 'succeeded', 'failed', 'timed_out', 'skipped')"
NEW = "status IN ('running', 'succeeded', 'failed', 'timed_out', 'skipped', 'missed')"


def upgrade() -> None:
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_job_runs_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_job_runs_status"), NEW)
        batch_op.add_column(sa.Column("slots", sa.Integer(), nullable=True))
        batch_op.create_index("ix_job_runs_job_slot", ["job_name", "scheduled_for"])


def downgrade() -> None:
    op.execute("DELETE FROM job_runs WHERE status = 'missed'")
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_job_runs_job_slot")
        batch_op.drop_column("slots")
        batch_op.drop_constraint(op.f("ck_job_runs_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_job_runs_status"), OLD)

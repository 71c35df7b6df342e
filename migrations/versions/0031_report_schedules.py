"""report schedules (a cron in the business time zone, the report's period kind, sections,
format and language, an e-mail channel and its recipients), the scheduled run's slot and
delivery on report_runs, a report's file kept in a directory, and the outbox's "report" kind

Revision ID: 0031
Revises: 0030
"""

import sqlalchemy as sa
from alembic import op

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None

OLD_KINDS = "kind IN ('firing', 'resolved', 'escalation', 'test')"
NEW_KINDS = "kind IN ('firing', 'resolved', 'escalation', 'test', 'report')"


def upgrade() -> None:
    op.create_table(
        "report_schedules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("cron", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("sections", sa.JSON(), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=True),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("next_run_at", sa.DateTime(), nullable=True),
        sa.Column("last_run_at", sa.DateTime(), nullable=True),
        sa.Column("last_run_id", sa.Integer(), nullable=True),
        sa.Column("last_status", sa.String(length=16), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('daily', 'weekly', 'monthly')", name=op.f("ck_report_schedules_kind")
        ),
        sa.CheckConstraint("format IN ('pdf', 'xlsx')", name=op.f("ck_report_schedules_format")),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["notification_channels.id"],
            name=op.f("fk_report_schedules_channel_id_notification_channels"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_schedules")),
        sa.UniqueConstraint("name", name=op.f("uq_report_schedules_name")),
    )
    with op.batch_alter_table("report_schedules", schema=None) as batch_op:
        batch_op.create_index("ix_report_schedules_due", ["enabled", "next_run_at"], unique=False)
    with op.batch_alter_table("report_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scheduled_for", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("enqueued_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("file_path", sa.String(length=500), nullable=True))
        batch_op.create_index(
            "uq_report_runs_schedule_slot", ["schedule_id", "scheduled_for"], unique=True
        )
    with op.batch_alter_table("notification_outbox", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_notification_outbox_kind"), type_="check")
        batch_op.create_check_constraint(op.f("ck_notification_outbox_kind"), NEW_KINDS)


def downgrade() -> None:
    op.execute("DELETE FROM notification_outbox WHERE kind = 'report'")
    with op.batch_alter_table("notification_outbox", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_notification_outbox_kind"), type_="check")
        batch_op.create_check_constraint(op.f("ck_notification_outbox_kind"), OLD_KINDS)
    with op.batch_alter_table("report_runs", schema=None) as batch_op:
        batch_op.drop_index("uq_report_runs_schedule_slot")
        batch_op.drop_column("file_path")
        batch_op.drop_column("enqueued_at")
        batch_op.drop_column("scheduled_for")
    with op.batch_alter_table("report_schedules", schema=None) as batch_op:
        batch_op.drop_index("ix_report_schedules_due")
    op.drop_table("report_schedules")

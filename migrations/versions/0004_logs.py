"""app_logs: structured application log lines

Revision ID: 0004
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "app_logs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("level_name", sa.String(length=16), nullable=False),
        sa.Column("logger", sa.String(length=200), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("module", sa.String(length=200), nullable=True),
        sa.Column("func", sa.String(length=200), nullable=True),
        sa.Column("line", sa.Integer(), nullable=True),
        sa.Column("exc_text", sa.Text(), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("host", sa.String(length=128), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_logs")),
    )
    op.create_index("ix_app_logs_at", "app_logs", ["at"])
    op.create_index("ix_app_logs_level_at", "app_logs", ["level", "at"])
    op.create_index("ix_app_logs_logger_at", "app_logs", ["logger", "at"])


def downgrade() -> None:
    op.drop_index("ix_app_logs_logger_at", table_name="app_logs")
    op.drop_index("ix_app_logs_level_at", table_name="app_logs")
    op.drop_index("ix_app_logs_at", table_name="app_logs")
    op.drop_table("app_logs")

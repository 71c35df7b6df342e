"""channel sources: per-channel HTTP source configuration and last good statistics

Revision ID: 0007
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channel_sources",
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("auth_header_name", sa.String(length=64), nullable=True),
        sa.Column("auth_header_value", sa.String(length=500), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("timeout_s", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("kind IN ('http')", name=op.f("ck_channel_sources_kind")),
        sa.CheckConstraint(
            "timeout_s > 0 AND timeout_s <= 120", name=op.f("ck_channel_sources_timeout_s")
        ),
        sa.PrimaryKeyConstraint("channel", name=op.f("pk_channel_sources")),
    )
    op.create_table(
        "channel_last_good",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("views", sa.BigInteger(), nullable=False),
        sa.Column("clicks", sa.BigInteger(), nullable=False),
        sa.Column("conversions", sa.BigInteger(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_channel_last_good_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("event_id", "channel", name=op.f("pk_channel_last_good")),
    )


def downgrade() -> None:
    op.drop_table("channel_last_good")
    op.drop_table("channel_sources")

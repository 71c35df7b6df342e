"""customer analytics: business settings, customer stats, segment snapshots, tags and history

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "business_settings",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.JSON(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_business_settings")),
    )
    op.create_table(
        "customer_stats",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("visits", sa.Integer(), nullable=False),
        sa.Column("first_visit", sa.DateTime(), nullable=True),
        sa.Column("last_visit", sa.DateTime(), nullable=True),
        sa.Column("avg_interval_days", sa.Float(), nullable=True),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("spend_cents", sa.BigInteger(), nullable=False),
        sa.Column("first_order", sa.DateTime(), nullable=True),
        sa.Column("last_order", sa.DateTime(), nullable=True),
        sa.Column("computed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_customer_stats")),
    )
    op.create_index("ix_customer_stats_spend", "customer_stats", ["spend_cents"])
    op.create_index("ix_customer_stats_last_visit", "customer_stats", ["last_visit"])
    op.create_table(
        "customer_segment_snapshots",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("visits", sa.Integer(), nullable=False),
        sa.Column("spend_cents", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("month", "customer_id", name=op.f("pk_customer_segment_snapshots")),
    )
    op.create_index(
        "ix_customer_segment_snapshots_customer",
        "customer_segment_snapshots",
        ["customer_id", "month"],
    )
    op.create_table(
        "customer_tags",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=32), nullable=False),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "tag", name=op.f("pk_customer_tags")),
    )
    op.create_index("ix_customer_tags_tag", "customer_tags", ["tag"])
    op.create_table(
        "customer_tag_history",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=32), nullable=False),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.Column("added_as_of", sa.Date(), nullable=False),
        sa.Column("removed_at", sa.DateTime(), nullable=True),
        sa.Column("removed_as_of", sa.Date(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_tag_history")),
    )
    op.create_index(
        "ix_customer_tag_history_customer", "customer_tag_history", ["customer_id", "tag"]
    )
    op.create_index("ix_customer_tag_history_added_at", "customer_tag_history", ["added_at"])


def downgrade() -> None:
    op.drop_index("ix_customer_tag_history_added_at", table_name="customer_tag_history")
    op.drop_index("ix_customer_tag_history_customer", table_name="customer_tag_history")
    op.drop_table("customer_tag_history")
    op.drop_index("ix_customer_tags_tag", table_name="customer_tags")
    op.drop_table("customer_tags")
    op.drop_index("ix_customer_segment_snapshots_customer", table_name="customer_segment_snapshots")
    op.drop_table("customer_segment_snapshots")
    op.drop_index("ix_customer_stats_last_visit", table_name="customer_stats")
    op.drop_index("ix_customer_stats_spend", table_name="customer_stats")
    op.drop_table("customer_stats")
    op.drop_table("business_settings")

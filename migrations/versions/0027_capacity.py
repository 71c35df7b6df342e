"""capacity gauge: consumable resources (capacity_resources) and their sampled levels
(capacity_samples)

Revision ID: 0027
Revises: 0026
"""

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "capacity_resources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=128), nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column("capacity", sa.Float(), nullable=False),
        sa.Column("refill_per_hour", sa.Float(), nullable=False),
        sa.Column("cost_per_transaction", sa.Float(), nullable=False),
        sa.Column("tier", sa.String(length=8), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("capacity > 0", name=op.f("ck_capacity_resources_capacity")),
        sa.CheckConstraint("refill_per_hour >= 0", name=op.f("ck_capacity_resources_refill")),
        sa.CheckConstraint("cost_per_transaction >= 0", name=op.f("ck_capacity_resources_cost")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_capacity_resources")),
        sa.UniqueConstraint("name", name=op.f("uq_capacity_resources_name")),
    )
    op.create_table(
        "capacity_samples",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("sampled_at", sa.DateTime(), nullable=False),
        sa.Column("level", sa.Float(), nullable=False),
        sa.Column("used", sa.Float(), nullable=False),
        sa.Column("refilled", sa.Float(), nullable=False),
        sa.Column("topped_up", sa.Float(), nullable=False),
        sa.Column("transactions", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["capacity_resources.id"],
            name=op.f("fk_capacity_samples_resource_id_capacity_resources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_capacity_samples")),
    )
    with op.batch_alter_table("capacity_samples", schema=None) as batch_op:
        batch_op.create_index(
            "ix_capacity_samples_resource_at", ["resource_id", "sampled_at"], unique=True
        )


def downgrade() -> None:
    with op.batch_alter_table("capacity_samples", schema=None) as batch_op:
        batch_op.drop_index("ix_capacity_samples_resource_at")
    op.drop_table("capacity_samples")
    op.drop_table("capacity_resources")

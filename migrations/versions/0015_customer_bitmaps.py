"""customer bitmaps: buyers, repeat buyers, visitors (and category pairs) per day, month and
quarter as serialized roaring bitmaps (exact distinct counts from a few unions), filled from the
existing data

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

GRAINS = (("daily", "day"), ("monthly", "month"), ("quarterly", "quarter"))


def upgrade() -> None:
    for prefix, period in GRAINS:
        name = f"{prefix}_customer_bitmaps"
        op.create_table(
            name,
            sa.Column(period, sa.Date(), nullable=False),
            sa.Column("kind", sa.String(length=16), nullable=False),
            sa.Column("platform_id", sa.Integer(), nullable=False),
            sa.Column("category_id", sa.Integer(), nullable=False),
            sa.Column("paired_category_id", sa.Integer(), nullable=False),
            sa.Column("bitmap", sa.LargeBinary(), nullable=False),
            sa.PrimaryKeyConstraint(
                period,
                "kind",
                "platform_id",
                "category_id",
                "paired_category_id",
                name=f"pk_{name}",
            ),
        )
    # Fill them from the data already there (the daily roll-ups of 0001/0010, orders, visits),
    # like 0010 filled its grains; later refreshes keep them current.
    from bi_app.db.bitmaps import refresh_bitmaps

    refresh_bitmaps(op.get_bind(), None, None)


def downgrade() -> None:
    for prefix, _period in reversed(GRAINS):
        op.drop_table(f"{prefix}_customer_bitmaps")

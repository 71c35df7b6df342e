"""drop the customer roll-ups (customer ids per day, month and quarter by platform and
category): distinct customer counts come from the customer bitmaps (0015), nothing reads these
tables any more, and rebuilding them cost minutes on every refresh at 10M orders

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

# children first: the coarser tables were derived from the finer ones
TABLES = (
    "quarterly_category_customers",
    "monthly_category_customers",
    "quarterly_customers",
    "monthly_customers",
    "quarterly_platform_customers",
    "monthly_platform_customers",
    "daily_platform_customers",
    "daily_customer_activity",
)


def upgrade() -> None:
    for name in TABLES:
        op.drop_table(name)


def downgrade() -> None:
    # The tables come back empty, as created by 0001 and 0010; the code of that revision fills
    # them on its next refresh_rollups (a data load, an import or the periodic roll-up job).
    op.create_table(
        "daily_customer_activity",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("platform_id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "day",
            "platform_id",
            "category_id",
            "customer_id",
            name=op.f("pk_daily_customer_activity"),
        ),
    )
    op.create_table(
        "daily_platform_customers",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("platform_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "day", "platform_id", "customer_id", name=op.f("pk_daily_platform_customers")
        ),
    )
    op.create_table(
        "monthly_platform_customers",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("platform_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "platform_id", "month", "customer_id", name=op.f("pk_monthly_platform_customers")
        ),
    )
    op.create_table(
        "quarterly_platform_customers",
        sa.Column("quarter", sa.Date(), nullable=False),
        sa.Column("platform_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "platform_id", "quarter", "customer_id", name=op.f("pk_quarterly_platform_customers")
        ),
    )
    op.create_table(
        "monthly_customers",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("month", "customer_id", name=op.f("pk_monthly_customers")),
    )
    op.create_table(
        "quarterly_customers",
        sa.Column("quarter", sa.Date(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("quarter", "customer_id", name=op.f("pk_quarterly_customers")),
    )
    op.create_table(
        "monthly_category_customers",
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "category_id", "month", "customer_id", name=op.f("pk_monthly_category_customers")
        ),
    )
    op.create_table(
        "quarterly_category_customers",
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("quarter", sa.Date(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "category_id", "quarter", "customer_id", name=op.f("pk_quarterly_category_customers")
        ),
    )

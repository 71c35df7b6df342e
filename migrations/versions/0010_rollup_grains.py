"""coarser roll-up grains: customers per day, month and quarter without the category, per month
and quarter without the platform (overall and per category), and product sales per month

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
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
    op.create_table(
        "monthly_product_sales",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("platform_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("orders", sa.BigInteger(), nullable=False),
        sa.Column("revenue_cents", sa.BigInteger(), nullable=False),
        sa.Column("units", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "month",
            "platform_id",
            "status",
            "product_id",
            "category_id",
            name=op.f("pk_monthly_product_sales"),
        ),
    )
    _fill_from_daily_tables()


def _fill_from_daily_tables() -> None:
    """Derive the new tables from the daily roll-ups already there, so an upgraded database
    answers correctly at once (the app reads whole months from these tables)."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    month = "date(day, 'start of month')" if sqlite else "CAST(date_trunc('month', day) AS DATE)"
    quarter = (
        "date(month, printf('-%d months', (CAST(strftime('%m', month) AS INTEGER) - 1) % 3))"
        if sqlite
        else "CAST(date_trunc('quarter', month) AS DATE)"
    )
    op.execute(
        "INSERT INTO daily_platform_customers (day, platform_id, customer_id) "
        "SELECT DISTINCT day, platform_id, customer_id FROM daily_customer_activity"
    )
    op.execute(
        "INSERT INTO monthly_platform_customers (month, platform_id, customer_id) "
        f"SELECT DISTINCT {month}, platform_id, customer_id FROM daily_platform_customers"
    )
    op.execute(
        "INSERT INTO quarterly_platform_customers (quarter, platform_id, customer_id) "
        f"SELECT DISTINCT {quarter}, platform_id, customer_id FROM monthly_platform_customers"
    )
    op.execute(
        "INSERT INTO monthly_customers (month, customer_id) "
        "SELECT DISTINCT month, customer_id FROM monthly_platform_customers"
    )
    op.execute(
        "INSERT INTO quarterly_customers (quarter, customer_id) "
        f"SELECT DISTINCT {quarter}, customer_id FROM monthly_customers"
    )
    op.execute(
        "INSERT INTO monthly_category_customers (category_id, month, customer_id) "
        f"SELECT DISTINCT category_id, {month}, customer_id FROM daily_customer_activity"
    )
    op.execute(
        "INSERT INTO quarterly_category_customers (category_id, quarter, customer_id) "
        f"SELECT DISTINCT category_id, {quarter}, customer_id FROM monthly_category_customers"
    )
    op.execute(
        "INSERT INTO monthly_product_sales "
        "(month, platform_id, status, product_id, category_id, orders, revenue_cents, units) "
        f"SELECT {month}, platform_id, status, product_id, category_id, "
        "SUM(orders), SUM(revenue_cents), SUM(units) FROM daily_product_sales "
        f"GROUP BY {month}, platform_id, status, product_id, category_id"
    )
    if not sqlite:
        # Statistics now, not at autovacuum's leisure: without them the first reads plan badly.
        for table in (
            "daily_platform_customers",
            "monthly_platform_customers",
            "quarterly_platform_customers",
            "monthly_customers",
            "quarterly_customers",
            "monthly_category_customers",
            "quarterly_category_customers",
            "monthly_product_sales",
        ):
            op.execute(f"ANALYZE {table}")


def downgrade() -> None:
    op.drop_table("monthly_product_sales")
    op.drop_table("quarterly_category_customers")
    op.drop_table("monthly_category_customers")
    op.drop_table("quarterly_customers")
    op.drop_table("monthly_customers")
    op.drop_table("quarterly_platform_customers")
    op.drop_table("monthly_platform_customers")
    op.drop_table("daily_platform_customers")

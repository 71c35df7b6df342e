"""customer activity months: each customer's visits and revenue orders per month, which the
customer recompute reads instead of every visit and order (a full run at 10M orders grouped
27M visits and 10M orders by customer and month every time)

The tables start empty; ``customer_recompute_runs.activity_months`` records that a run left them
complete. The next run after this migration finds no such run and builds them (a full run).

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customer_visit_months",
        sa.Column("customer_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("visits", sa.Integer(), nullable=False),
        sa.Column("first_at", sa.DateTime(), nullable=False),
        sa.Column("last_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "month", name=op.f("pk_customer_visit_months")),
    )
    op.create_table(
        "customer_order_months",
        sa.Column("customer_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("spend_cents", sa.BigInteger(), nullable=False),
        sa.Column("first_at", sa.DateTime(), nullable=False),
        sa.Column("last_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "month", name=op.f("pk_customer_order_months")),
    )
    with op.batch_alter_table("customer_recompute_runs") as batch:
        batch.add_column(sa.Column("activity_months", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("customer_recompute_runs") as batch:
        batch.drop_column("activity_months")
    op.drop_table("customer_order_months")
    op.drop_table("customer_visit_months")

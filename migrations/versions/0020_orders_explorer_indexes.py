"""orders explorer: an index to sort orders by amount, and one for order-number prefixes

The explorer sorts the filtered orders by amount and searches order numbers by their start. On
PostgreSQL a LIKE 'prefix%' can use only an index with ``varchar_pattern_ops`` (the unique index
follows the database's collation); SQLite gets a plain one.

Revision ID: 0020
Revises: 0019
"""

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_orders_total", "orders", ["total_cents", "id"])
    op.create_index(
        "ix_orders_number_prefix",
        "orders",
        ["order_number"],
        postgresql_ops={"order_number": "varchar_pattern_ops"},
    )


def downgrade() -> None:
    op.drop_index("ix_orders_number_prefix", table_name="orders")
    op.drop_index("ix_orders_total", table_name="orders")

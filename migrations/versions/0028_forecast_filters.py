"""forecast filters: forecast_runs.filter_key ("" the totals, "platform:<code>" or
"category:<code>" one platform's or category's series)

Revision ID: 0028
Revises: 0027
"""

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("forecast_runs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("filter_key", sa.String(length=160), server_default="", nullable=False)
        )
        batch_op.create_index(
            "ix_forecast_runs_series_filter",
            ["series", "filter_key", "status", "id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("forecast_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_forecast_runs_series_filter")
    op.execute(sa.text("DELETE FROM forecast_runs WHERE filter_key <> ''"))
    with op.batch_alter_table("forecast_runs", schema=None) as batch_op:
        batch_op.drop_column("filter_key")

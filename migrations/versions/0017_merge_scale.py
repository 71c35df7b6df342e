"""merge the scale branches (customer bitmaps, incremental customer analytics)

Revision ID: 0017
Revises: 0015, 0016
"""

revision = "0017"
down_revision = ("0015", "0016")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

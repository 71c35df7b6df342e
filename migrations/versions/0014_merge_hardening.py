"""merge the hardening branches (encrypted channel secrets, server-side sessions, job slots)

Revision ID: 0014
Revises: 0011, 0012, 0013
"""

revision = "0014"
down_revision = ("0011", "0012", "0013")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

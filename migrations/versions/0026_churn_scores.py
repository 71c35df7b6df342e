"""churn scores (churn_scores: the churn classifier's probability and the next expected visit of
each customer, with the model version that scored it)

Revision ID: 0026
Revises: 0025
"""

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "churn_scores",
        sa.Column("customer_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column("probability_ppm", sa.Integer(), nullable=False),
        sa.Column("next_expected_visit", sa.Date(), nullable=True),
        sa.Column("model_version_id", sa.Integer(), nullable=True),
        sa.Column("scored_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_churn_scores_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["model_version_id"],
            ["model_versions.id"],
            name=op.f("fk_churn_scores_model_version_id_model_versions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_churn_scores")),
    )
    with op.batch_alter_table("churn_scores", schema=None) as batch_op:
        batch_op.create_index(
            "ix_churn_scores_ppm", ["probability_ppm", "customer_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("churn_scores", schema=None) as batch_op:
        batch_op.drop_index("ix_churn_scores_ppm")
    op.drop_table("churn_scores")

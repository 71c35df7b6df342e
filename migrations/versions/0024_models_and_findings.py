"""trained models (model_versions: versions, metadata, skops/Prophet-JSON artifacts, one active
per name) and the transaction detector's findings

Revision ID: 0024
Revises: 0023
"""

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("trained_at", sa.DateTime(), nullable=False),
        sa.Column("data_from", sa.DateTime(), nullable=True),
        sa.Column("data_to", sa.DateTime(), nullable=True),
        sa.Column("features", sa.JSON(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("artifact", sa.LargeBinary(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("trained_by", sa.String(length=64), nullable=True),
        sa.CheckConstraint(
            "format IN ('skops', 'prophet-json')", name=op.f("ck_model_versions_format")
        ),
        sa.CheckConstraint(
            "status IN ('good', 'failed', 'rejected')", name=op.f("ck_model_versions_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_versions")),
        sa.UniqueConstraint("name", "version", name="uq_model_versions_name_version"),
    )
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.create_index(
            "uq_model_versions_active",
            ["name"],
            unique=True,
            postgresql_where=sa.text("active"),
            sqlite_where=sa.text("active"),
        )

    op.create_table(
        "transaction_findings",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "transaction_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("model_version_id", sa.Integer(), nullable=True),
        sa.Column("scored_at", sa.DateTime(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=True),
        sa.Column("factors", sa.JSON(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("large", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "level IN ('critical', 'high', 'medium', 'low')",
            name=op.f("ck_transaction_findings_level"),
        ),
        sa.ForeignKeyConstraint(
            ["model_version_id"],
            ["model_versions.id"],
            name=op.f("fk_transaction_findings_model_version_id_model_versions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["transactions.id"],
            name=op.f("fk_transaction_findings_transaction_id_transactions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transaction_findings")),
        sa.UniqueConstraint("transaction_id", name=op.f("uq_transaction_findings_transaction_id")),
    )
    with op.batch_alter_table("transaction_findings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_transaction_findings_scored_level", ["scored_at", "level"], unique=False
        )
    install_transaction_rule()


# The alert center's rule for the detector's high and critical findings (editable data from
# here on; the name is also in bi_app.alerts.defaults, marked for translation).
TRANSACTION_RULE = {
    "name": "High-risk transaction",
    "description": "The transaction scoring job rated a transaction high or critical risk in "
    "the last 24 hours.",
    "kind": "business",
    "metric": "transaction_risk",
    "params": {"operator": ">=", "threshold": 3.0, "window_minutes": 1440},
    "severity": "critical",
    "labels": {"team": "treasury"},
    "for_seconds": 0,
    "cooldown_seconds": 0,
    "recommended_action": "Open the transaction on the Treasury page: block it and review it "
    "if nobody expected it; check the risk factors listed with the alert.",
}


def install_transaction_rule() -> None:
    rules = sa.table(
        "alert_rules",
        *(
            sa.column(name, type_)
            for name, type_ in (
                ("name", sa.String),
                ("description", sa.Text),
                ("kind", sa.String),
                ("metric", sa.String),
                ("params", sa.JSON),
                ("severity", sa.String),
                ("labels", sa.JSON),
                ("for_seconds", sa.Integer),
                ("cooldown_seconds", sa.Integer),
                ("targets", sa.JSON),
                ("escalation_minutes", sa.Integer),
                ("escalation_targets", sa.JSON),
                ("recommended_action", sa.Text),
                ("enabled", sa.Boolean),
                ("builtin", sa.Boolean),
                ("status", sa.String),
                ("created_at", sa.DateTime),
                ("updated_at", sa.DateTime),
            )
        ),
    )
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    op.bulk_insert(
        rules,
        [
            {
                **TRANSACTION_RULE,
                "targets": [],
                "escalation_minutes": None,
                "escalation_targets": [],
                "enabled": True,
                "builtin": True,
                "status": "ok",
                "created_at": now,
                "updated_at": now,
            }
        ],
    )


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM alert_rules WHERE name = 'High-risk transaction' AND builtin"))
    with op.batch_alter_table("transaction_findings", schema=None) as batch_op:
        batch_op.drop_index("ix_transaction_findings_scored_level")

    op.drop_table("transaction_findings")
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_model_versions_active",
            postgresql_where=sa.text("active"),
            sqlite_where=sa.text("active"),
        )

    op.drop_table("model_versions")

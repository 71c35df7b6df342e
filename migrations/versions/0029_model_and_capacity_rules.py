"""default alert rules of the predictive models and the capacity gauge: a model training that
failed or was rejected, and a consumable resource (transaction energy) below 20 % (warning) and
10 % (emergency)

Revision ID: 0029
Revises: 0028
"""

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None

# Editable data from here on; the names are also in bi_app.alerts.defaults, marked for
# translation.
RULES = (
    {
        "name": "Model training failed",
        "description": "A model of the registry failed to train, or trained worse than the "
        "active version and was rejected, in the last 24 hours. The previous version stays "
        "active.",
        "kind": "threshold",
        "metric": "model_training_problems",
        "params": {"operator": ">", "threshold": 0.0, "window_minutes": 1440},
        "severity": "warning",
        "labels": {"team": "data"},
        "recommended_action": "Open Admin → Models: read the failed version's error or compare "
        "the rejected version's metrics with the active one's, fix the data or retrain.",
    },
    {
        "name": "Capacity below 20 %",
        "description": "A consumable resource (transaction energy, API quota) has less than "
        "20 % of its capacity left.",
        "kind": "business",
        "metric": "capacity_level_pct",
        "params": {"operator": "<=", "threshold": 20.0},
        "severity": "warning",
        "labels": {"team": "treasury"},
        "recommended_action": "Check the predicted depletion time on the Treasury page and top "
        "the resource up (or slow its use) before it runs out.",
    },
    {
        "name": "Capacity below 10 %",
        "description": "A consumable resource (transaction energy, API quota) has less than "
        "10 % of its capacity left: outgoing transactions will soon fail.",
        "kind": "business",
        "metric": "capacity_level_pct",
        "params": {"operator": "<=", "threshold": 10.0},
        "severity": "emergency",
        "labels": {"team": "treasury"},
        "recommended_action": "Top the resource up now; hold non-urgent withdrawals until it "
        "has recovered.",
    },
)


def upgrade() -> None:
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
                **rule,
                "for_seconds": 0,
                "cooldown_seconds": 0,
                "targets": [],
                "escalation_minutes": None,
                "escalation_targets": [],
                "enabled": True,
                "builtin": True,
                "status": "ok",
                "created_at": now,
                "updated_at": now,
            }
            for rule in RULES
        ],
    )


def downgrade() -> None:
    names = ", ".join(f"'{rule['name']}'" for rule in RULES)
    op.execute(sa.text(f"DELETE FROM alert_rules WHERE builtin AND name IN ({names})"))

"""the alert center: rules (with the default pack), alerts and their history, silences,
notification channels and the outbox

Revision ID: 0023
Revises: 0022
"""

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("metric", sa.String(length=64), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("for_seconds", sa.Integer(), nullable=False),
        sa.Column("cooldown_seconds", sa.Integer(), nullable=False),
        sa.Column("targets", sa.JSON(), nullable=False),
        sa.Column("escalation_minutes", sa.Integer(), nullable=True),
        sa.Column("escalation_targets", sa.JSON(), nullable=False),
        sa.Column("response_job", sa.String(length=64), nullable=True),
        sa.Column("recommended_action", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("builtin", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_value", sa.Float(), nullable=True),
        sa.Column("evaluated_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('threshold', 'health', 'business', 'deviation')",
            name=op.f("ck_alert_rules_kind"),
        ),
        sa.CheckConstraint(
            "severity IN ('info', 'warning', 'critical', 'emergency')",
            name=op.f("ck_alert_rules_severity"),
        ),
        sa.CheckConstraint("status IN ('ok', 'error')", name=op.f("ck_alert_rules_status")),
        sa.CheckConstraint(
            "for_seconds >= 0 AND cooldown_seconds >= 0", name=op.f("ck_alert_rules_durations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_rules")),
        sa.UniqueConstraint("name", name=op.f("uq_alert_rules_name")),
    )
    op.create_table(
        "notification_channels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=True),
        sa.Column("severities", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_success_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('email', 'slack', 'webhook', 'sms')",
            name=op.f("ck_notification_channels_kind"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_channels")),
        sa.UniqueConstraint("name", name=op.f("uq_notification_channels_name")),
    )
    op.create_table(
        "silences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("matchers", sa.JSON(), nullable=False),
        sa.Column("starts_at", sa.DateTime(), nullable=False),
        sa.Column("ends_at", sa.DateTime(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_silences_period")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_silences")),
    )
    with op.batch_alter_table("silences", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_silences_ends_at"), ["ends_at"], unique=False)

    op.create_table(
        "alerts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("fingerprint", sa.String(length=128), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("annotations", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("fired_at", sa.DateTime(), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=64), nullable=True),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.Column("resolved_by", sa.String(length=64), nullable=True),
        sa.Column("escalated_at", sa.DateTime(), nullable=True),
        sa.Column("silence_id", sa.Integer(), nullable=True),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "severity IN ('info', 'warning', 'critical', 'emergency')",
            name=op.f("ck_alerts_severity"),
        ),
        sa.CheckConstraint(
            "source IN ('rule', 'alertmanager', 'system')", name=op.f("ck_alerts_source")
        ),
        sa.CheckConstraint(
            "state IN ('pending', 'firing', 'acknowledged', 'resolved', 'ignored')",
            name=op.f("ck_alerts_state"),
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["alert_rules.id"],
            name=op.f("fk_alerts_rule_id_alert_rules"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["silence_id"],
            ["silences.id"],
            name=op.f("fk_alerts_silence_id_silences"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index("ix_alerts_rule_started", ["rule_id", "started_at"], unique=False)
        batch_op.create_index("ix_alerts_started_at", ["started_at"], unique=False)
        batch_op.create_index("ix_alerts_state_severity", ["state", "severity"], unique=False)
        batch_op.create_index(
            "uq_alerts_open_fingerprint",
            ["fingerprint"],
            unique=True,
            postgresql_where=sa.text("state IN ('pending', 'firing', 'acknowledged')"),
            sqlite_where=sa.text("state IN ('pending', 'firing', 'acknowledged')"),
        )

    op.create_table(
        "alert_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("alert_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alerts.id"],
            name=op.f("fk_alert_events_alert_id_alerts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_events")),
    )
    with op.batch_alter_table("alert_events", schema=None) as batch_op:
        batch_op.create_index("ix_alert_events_alert_at", ["alert_id", "at"], unique=False)

    op.create_table(
        "notification_outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("group_key", sa.String(length=200), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("claimed_by", sa.String(length=200), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("sent_with", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.CheckConstraint(
            "kind IN ('firing', 'resolved', 'escalation', 'test')",
            name=op.f("ck_notification_outbox_kind"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'sending', 'sent', 'failed')",
            name=op.f("ck_notification_outbox_status"),
        ),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alerts.id"],
            name=op.f("fk_notification_outbox_alert_id_alerts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["notification_channels.id"],
            name=op.f("fk_notification_outbox_channel_id_notification_channels"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_outbox")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_notification_outbox_idempotency_key")),
    )
    with op.batch_alter_table("notification_outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_notification_outbox_channel_created", ["channel_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_notification_outbox_status_due", ["status", "next_attempt_at"], unique=False
        )

    install_default_pack()


def downgrade() -> None:
    with op.batch_alter_table("notification_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_notification_outbox_status_due")
        batch_op.drop_index("ix_notification_outbox_channel_created")

    op.drop_table("notification_outbox")
    with op.batch_alter_table("alert_events", schema=None) as batch_op:
        batch_op.drop_index("ix_alert_events_alert_at")

    op.drop_table("alert_events")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_alerts_open_fingerprint",
            postgresql_where=sa.text("state IN ('pending', 'firing', 'acknowledged')"),
            sqlite_where=sa.text("state IN ('pending', 'firing', 'acknowledged')"),
        )
        batch_op.drop_index("ix_alerts_state_severity")
        batch_op.drop_index("ix_alerts_started_at")
        batch_op.drop_index("ix_alerts_rule_started")

    op.drop_table("alerts")
    with op.batch_alter_table("silences", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_silences_ends_at"))

    op.drop_table("silences")
    op.drop_table("notification_channels")
    op.drop_table("alert_rules")


# The default pack, as it was when this revision was written (the names and texts are also in
# bi_app.alerts.defaults, marked for translation). Operators edit or disable these rows.
DEFAULT_PACK = (
    {
        "name": "Event attendance below 70 %",
        "description": "A running event has checked in less than 70 % of its registered guests.",
        "kind": "business",
        "metric": "event_attendance_rate",
        "params": {"operator": "<", "threshold": 70.0},
        "severity": "warning",
        "labels": {"team": "events"},
        "for_seconds": 900,
        "cooldown_seconds": 3600,
        "recommended_action": "Remind the registered guests on the event's channels and check "
        "that the check-in desk is scanning tickets.",
    },
    {
        "name": "Error rate above 5 %",
        "description": "More than 5 % of the requests of the last 5 minutes failed.",
        "kind": "threshold",
        "metric": "http_error_rate",
        "params": {"operator": ">", "threshold": 5.0, "window_minutes": 5},
        "severity": "critical",
        "labels": {"team": "ops"},
        "for_seconds": 120,
        "cooldown_seconds": 900,
        "escalation_minutes": 30,
        "recommended_action": "Open Operations → Logs filtered to errors and Performance for "
        "the failing routes; roll back the last deployment if it started then.",
    },
    {
        "name": "p95 latency above 1 s",
        "description": "The 95th percentile of request latency over 5 minutes is above 1 s.",
        "kind": "threshold",
        "metric": "http_p95_ms",
        "params": {"operator": ">", "threshold": 1000.0, "window_minutes": 5},
        "severity": "warning",
        "labels": {"team": "ops"},
        "for_seconds": 300,
        "cooldown_seconds": 1800,
        "recommended_action": "Check Operations → Performance for the slowest routes and the "
        "database and cache health tiles.",
    },
    {
        "name": "Database unreachable",
        "description": "The database health check failed twice in a row.",
        "kind": "health",
        "metric": "database",
        "params": {"runs": 2},
        "severity": "emergency",
        "labels": {"team": "ops"},
        "for_seconds": 0,
        "cooldown_seconds": 300,
        "escalation_minutes": 10,
        "recommended_action": "Check that the database server runs and accepts connections "
        "(BI_DATABASE_URL), then its disk and connection count.",
    },
    {
        "name": "A job is late",
        "description": "Scheduled jobs have kept running late, or not at all, for 15 minutes "
        "(the slots a restart misses do not count).",
        "kind": "threshold",
        "metric": "jobs_late",
        "params": {"operator": ">", "threshold": 0.0, "window_minutes": 10},
        "severity": "warning",
        "labels": {"team": "ops"},
        "for_seconds": 900,
        "cooldown_seconds": 3600,
        "recommended_action": "Open Admin → Jobs: check the scheduler's leader and the job's "
        "last error, then run it now.",
    },
    {
        "name": "Disk free below 10 %",
        "description": "Less than 10 % of the data disk is free.",
        "kind": "threshold",
        "metric": "disk_free_percent",
        "params": {"operator": "<", "threshold": 10.0},
        "severity": "critical",
        "labels": {"team": "ops"},
        "for_seconds": 300,
        "cooldown_seconds": 3600,
        "escalation_minutes": 60,
        "recommended_action": "Free disk space: old exports and logs, or grow the volume.",
    },
    {
        "name": "Revenue far below its seasonal baseline",
        "description": "Yesterday's revenue is more than 3 standard deviations below the same "
        "weekday of the last 8 weeks.",
        "kind": "deviation",
        "metric": "revenue_day",
        "params": {"k": 3.0, "weeks": 8, "direction": "below"},
        "severity": "warning",
        "labels": {"team": "business"},
        "for_seconds": 0,
        "cooldown_seconds": 86400,
        "recommended_action": "Compare platforms and categories on the Sales page for that day; "
        "check the shop's checkout and payment provider.",
    },
)


def install_default_pack() -> None:
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
                "targets": [],
                "escalation_minutes": None,
                "escalation_targets": [],
                "enabled": True,
                "builtin": True,
                "status": "ok",
                "created_at": now,
                "updated_at": now,
                **rule,
            }
            for rule in DEFAULT_PACK
        ],
    )

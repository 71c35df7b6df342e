"""monitoring: health results, resource samples, request/cache metrics, monitored services

Revision ID: 0003
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None

_BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _metric_table(name: str) -> None:
    op.create_table(
        name,
        sa.Column("id", _BIGINT_ID, nullable=False),
        sa.Column("bucket", sa.DateTime(), nullable=False),
        sa.Column("source", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("sum_ms", sa.Float(), nullable=False),
        sa.Column("max_ms", sa.Float(), nullable=False),
        sa.Column("p50_ms", sa.Float(), nullable=False),
        sa.Column("p95_ms", sa.Float(), nullable=False),
        sa.Column("buckets", sa.JSON(), nullable=False),
        sa.CheckConstraint("kind IN ('http', 'callback')", name=op.f(f"ck_{name}_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}")),
    )
    op.create_index(f"ix_{name}_bucket_kind", name, ["bucket", "kind"])


def upgrade() -> None:
    op.create_table(
        "health_results",
        sa.Column("id", _BIGINT_ID, nullable=False),
        sa.Column("check_name", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('healthy', 'degraded', 'unhealthy')", name=op.f("ck_health_results_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_health_results")),
    )
    op.create_index("ix_health_results_check_at", "health_results", ["check_name", "at"])
    op.create_index(op.f("ix_health_results_at"), "health_results", ["at"])

    op.create_table(
        "resource_samples",
        sa.Column("id", _BIGINT_ID, nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("source", sa.String(length=128), nullable=False),
        sa.Column("cpu_percent", sa.Float(), nullable=False),
        sa.Column("memory_percent", sa.Float(), nullable=False),
        sa.Column("memory_used_bytes", sa.BigInteger(), nullable=False),
        sa.Column("disk_percent", sa.Float(), nullable=False),
        sa.Column("disk_used_bytes", sa.BigInteger(), nullable=False),
        sa.Column("net_sent_bps", sa.Float(), nullable=False),
        sa.Column("net_recv_bps", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resource_samples")),
    )
    op.create_index(op.f("ix_resource_samples_at"), "resource_samples", ["at"])

    _metric_table("request_metrics_minute")
    _metric_table("request_metrics_hour")

    op.create_table(
        "cache_metrics_minute",
        sa.Column("id", _BIGINT_ID, nullable=False),
        sa.Column("bucket", sa.DateTime(), nullable=False),
        sa.Column("source", sa.String(length=128), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("misses", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cache_metrics_minute")),
    )
    op.create_index(op.f("ix_cache_metrics_minute_bucket"), "cache_metrics_minute", ["bucket"])

    op.create_table(
        "monitored_services",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("expected_status", sa.Integer(), nullable=False),
        sa.Column("timeout_s", sa.Float(), nullable=False),
        sa.Column("auth_env", sa.String(length=128), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitored_services")),
        sa.UniqueConstraint("name", name=op.f("uq_monitored_services_name")),
    )


def downgrade() -> None:
    op.drop_table("monitored_services")
    op.drop_index(op.f("ix_cache_metrics_minute_bucket"), table_name="cache_metrics_minute")
    op.drop_table("cache_metrics_minute")
    for name in ("request_metrics_hour", "request_metrics_minute"):
        op.drop_index(f"ix_{name}_bucket_kind", table_name=name)
        op.drop_table(name)
    op.drop_index(op.f("ix_resource_samples_at"), table_name="resource_samples")
    op.drop_table("resource_samples")
    op.drop_index(op.f("ix_health_results_at"), table_name="health_results")
    op.drop_index("ix_health_results_check_at", table_name="health_results")
    op.drop_table("health_results")

"""customers at scale: precomputed segments, paths, tags and aggregates; change capture triggers

Replaces the one-row-per-customer-per-month ``customer_segment_snapshots`` by each customer's
segment path (the month it reached each segment) and a small table of path counts; adds the
segment x tag counts, the RFM cells, the run/progress table, and the ``customer_changes`` table
that triggers on ``orders`` and ``visits`` fill on every insert, update and delete (on
PostgreSQL statement-level triggers with transition tables, one row per customer per statement;
on SQLite row triggers). ``customer_stats`` is derived data: it is recreated empty, and the next
run of the tags job (a full one, as no run is recorded yet) rebuilds it.

Revision ID: 0016
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0014"
branch_labels = None
depends_on = None

BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WATCHED = ("orders", "visits")

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION customer_changes_capture() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO customer_changes (customer_id) SELECT DISTINCT customer_id FROM new_rows;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO customer_changes (customer_id) SELECT DISTINCT customer_id FROM old_rows;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO customer_changes (customer_id)
            SELECT customer_id FROM new_rows UNION SELECT customer_id FROM old_rows;
    ELSE
        INSERT INTO customer_changes (customer_id) VALUES (-1);
    END IF;
    RETURN NULL;
END
$$
"""


def _pg_triggers(table: str) -> list[str]:
    return [
        (
            f"CREATE TRIGGER {table}_changes_insert AFTER INSERT ON {table} "
            "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
            "EXECUTE FUNCTION customer_changes_capture()"
        ),
        (
            f"CREATE TRIGGER {table}_changes_update AFTER UPDATE ON {table} "
            "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT "
            "EXECUTE FUNCTION customer_changes_capture()"
        ),
        (
            f"CREATE TRIGGER {table}_changes_delete AFTER DELETE ON {table} "
            "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT "
            "EXECUTE FUNCTION customer_changes_capture()"
        ),
        (
            f"CREATE TRIGGER {table}_changes_truncate AFTER TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION customer_changes_capture()"
        ),
    ]


def _sqlite_triggers(table: str) -> list[str]:
    return [
        (
            f"CREATE TRIGGER {table}_changes_insert AFTER INSERT ON {table} BEGIN "
            "INSERT INTO customer_changes (customer_id) VALUES (NEW.customer_id); END"
        ),
        (
            f"CREATE TRIGGER {table}_changes_update AFTER UPDATE ON {table} BEGIN "
            "INSERT INTO customer_changes (customer_id) VALUES (OLD.customer_id); "
            "INSERT INTO customer_changes (customer_id) VALUES (NEW.customer_id); END"
        ),
        (
            f"CREATE TRIGGER {table}_changes_delete AFTER DELETE ON {table} BEGIN "
            "INSERT INTO customer_changes (customer_id) VALUES (OLD.customer_id); END"
        ),
    ]


def upgrade() -> None:
    op.drop_index("ix_customer_segment_snapshots_customer", table_name="customer_segment_snapshots")
    op.drop_table("customer_segment_snapshots")
    op.drop_index("ix_customer_stats_last_visit", table_name="customer_stats")
    op.drop_index("ix_customer_stats_spend", table_name="customer_stats")
    op.drop_table("customer_stats")
    op.create_table(
        "customer_stats",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("visits", sa.Integer(), nullable=False),
        sa.Column("first_visit", sa.DateTime(), nullable=True),
        sa.Column("last_visit", sa.DateTime(), nullable=True),
        sa.Column("avg_interval_days", sa.Float(), nullable=True),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("spend_cents", sa.BigInteger(), nullable=False),
        sa.Column("first_order", sa.DateTime(), nullable=True),
        sa.Column("last_order", sa.DateTime(), nullable=True),
        sa.Column("computed_at", sa.DateTime(), nullable=False),
        sa.Column("segment", sa.String(length=8), nullable=False),
        sa.Column("first_month", sa.Date(), nullable=False),
        sa.Column("growing_month", sa.Date(), nullable=True),
        sa.Column("loyal_month", sa.Date(), nullable=True),
        sa.Column("vip_month", sa.Date(), nullable=True),
        sa.Column("last_visit_day", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=32), nullable=True),
        sa.Column("tag_due", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_customer_stats")),
    )
    op.create_index("ix_customer_stats_spend", "customer_stats", ["spend_cents", "customer_id"])
    op.create_index(
        "ix_customer_stats_last_visit", "customer_stats", ["last_visit_day", "customer_id"]
    )
    op.create_index("ix_customer_stats_visits", "customer_stats", ["visits", "customer_id"])
    for prefix in ("segment", "tag"):
        for name, key in (("spend", "spend_cents"), ("last_visit", "last_visit_day")):
            op.create_index(
                f"ix_customer_stats_{prefix}_{name}", "customer_stats", [prefix, key, "customer_id"]
            )
        op.create_index(
            f"ix_customer_stats_{prefix}_visits",
            "customer_stats",
            [prefix, "visits", "customer_id"],
        )
    op.create_index("ix_customer_stats_tag_due", "customer_stats", ["tag_due"])
    op.create_table(
        "customer_changes",
        sa.Column("id", BIGINT_ID, nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_changes")),
    )
    op.create_table(
        "customer_work",
        sa.Column("customer_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_customer_work")),
    )
    op.create_table(
        "customer_segment_paths",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("first_month", sa.Date(), nullable=False),
        sa.Column("growing_month", sa.Date(), nullable=True),
        sa.Column("loyal_month", sa.Date(), nullable=True),
        sa.Column("vip_month", sa.Date(), nullable=True),
        sa.Column("customers", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_segment_paths")),
    )
    op.create_table(
        "customer_profile_counts",
        sa.Column("segment", sa.String(length=8), nullable=False),
        sa.Column("tag", sa.String(length=32), nullable=False),
        sa.Column("customers", sa.Integer(), nullable=False),
        sa.Column("spend_cents", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("segment", "tag", name=op.f("pk_customer_profile_counts")),
    )
    op.create_table(
        "customer_rfm_cells",
        sa.Column("recency", sa.Integer(), nullable=False),
        sa.Column("frequency", sa.Integer(), nullable=False),
        sa.Column("customers", sa.Integer(), nullable=False),
        sa.Column("monetary_sum", sa.Integer(), nullable=False),
        sa.Column("spend_cents", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("recency", "frequency", name=op.f("pk_customer_rfm_cells")),
    )
    op.create_table(
        "customer_recompute_runs",
        sa.Column("id", BIGINT_ID, nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=True),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("thresholds", sa.JSON(), nullable=True),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=True),
        sa.Column("phase", sa.String(length=32), nullable=True),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_recompute_runs")),
    )
    op.create_index(
        "ix_customer_recompute_runs_status", "customer_recompute_runs", ["status", "id"]
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        statements = [s for table in WATCHED for s in _pg_triggers(table)]
    else:
        statements = [s for table in WATCHED for s in _sqlite_triggers(table)]
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in WATCHED:
        for event in ("insert", "update", "delete", "truncate"):
            if event == "truncate" and not postgres:
                continue
            suffix = f" ON {table}" if postgres else ""
            op.execute(f"DROP TRIGGER IF EXISTS {table}_changes_{event}{suffix}")
    if postgres:
        op.execute("DROP FUNCTION IF EXISTS customer_changes_capture()")
    op.drop_index("ix_customer_recompute_runs_status", table_name="customer_recompute_runs")
    op.drop_table("customer_recompute_runs")
    op.drop_table("customer_rfm_cells")
    op.drop_table("customer_profile_counts")
    op.drop_table("customer_segment_paths")
    op.drop_table("customer_work")
    op.drop_table("customer_changes")
    op.drop_index("ix_customer_stats_tag_due", table_name="customer_stats")
    for prefix in ("segment", "tag"):
        for name in ("spend", "last_visit", "visits"):
            op.drop_index(f"ix_customer_stats_{prefix}_{name}", table_name="customer_stats")
    op.drop_index("ix_customer_stats_visits", table_name="customer_stats")
    op.drop_index("ix_customer_stats_last_visit", table_name="customer_stats")
    op.drop_index("ix_customer_stats_spend", table_name="customer_stats")
    op.drop_table("customer_stats")
    op.create_table(
        "customer_stats",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("visits", sa.Integer(), nullable=False),
        sa.Column("first_visit", sa.DateTime(), nullable=True),
        sa.Column("last_visit", sa.DateTime(), nullable=True),
        sa.Column("avg_interval_days", sa.Float(), nullable=True),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("spend_cents", sa.BigInteger(), nullable=False),
        sa.Column("first_order", sa.DateTime(), nullable=True),
        sa.Column("last_order", sa.DateTime(), nullable=True),
        sa.Column("computed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_customer_stats")),
    )
    op.create_index("ix_customer_stats_spend", "customer_stats", ["spend_cents"])
    op.create_index("ix_customer_stats_last_visit", "customer_stats", ["last_visit"])
    op.create_table(
        "customer_segment_snapshots",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("visits", sa.Integer(), nullable=False),
        sa.Column("spend_cents", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("month", "customer_id", name=op.f("pk_customer_segment_snapshots")),
    )
    op.create_index(
        "ix_customer_segment_snapshots_customer",
        "customer_segment_snapshots",
        ["customer_id", "month"],
    )

"""Alembic environment: the URL comes from the caller
(bi_app.db.migrate) or from BI_DATABASE_URL."""

from alembic import context
from sqlalchemy import pool

import bi_app.db.alert_models
import bi_app.db.analytics_models
import bi_app.db.bitmap_models
import bi_app.db.capacity_models
import bi_app.db.channel_models
import bi_app.db.churn_models
import bi_app.db.forecast_models
import bi_app.db.import_models
import bi_app.db.job_models
import bi_app.db.log_models
import bi_app.db.model_models
import bi_app.db.monitoring_models  # health results, metrics roll-ups
import bi_app.db.report_models  # noqa: F401  (generated reports)
from bi_app.config import Settings
from bi_app.db.engine import make_engine
from bi_app.db.models import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    return config.attributes.get("database_url") or Settings.from_env().database_url


def run_migrations_offline() -> None:
    context.configure(
        url=_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = (
        make_engine(_url(), poolclass=pool.NullPool)
        if not _url().startswith("sqlite")
        else make_engine(_url())
    )
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()

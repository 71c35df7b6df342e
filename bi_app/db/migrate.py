"""Run Alembic migrations programmatically (``bi-app db upgrade``, tests, ``make run``).

The Alembic config is built here, not read from ``alembic.ini``, so migrations run from an
installed wheel in any working directory; ``alembic.ini`` serves only the ``alembic`` command in
a checkout.
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from bi_app.config import migrations_dir


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.set_main_option("path_separator", "os")
    cfg.attributes["database_url"] = database_url
    return cfg


def upgrade(database_url: str, revision: str = "heads") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)

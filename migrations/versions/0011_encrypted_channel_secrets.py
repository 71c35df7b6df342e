"""channel auth header values encrypted at rest: the column widens to hold Fernet tokens
("fernet:<token>", see bi_app.secret_box) and existing plaintext values are encrypted

The key comes from the environment the migration runs in (BI_ENCRYPTION_KEY, else derived from
BI_SECRET_KEY), as the app reads it. Where no key can be built here the plaintext rows are left
as they are: the app encrypts each one the first time it loads it (bi_app.channels.config).

Downgrade cannot decrypt: it removes the encrypted values (and their header names), so those
secrets must be entered again.

Revision ID: 0011
Revises: 0010
"""

import logging

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")
_table = sa.table(
    "channel_sources",
    sa.column("channel", sa.String),
    sa.column("auth_header_name", sa.String),
    sa.column("auth_header_value", sa.Text),
)


def _encrypt_plaintext_rows() -> None:
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(_table.c.channel, _table.c.auth_header_value).where(
            _table.c.auth_header_value.is_not(None),
            sa.not_(_table.c.auth_header_value.startswith("fernet:")),
        )
    ).all()
    if not rows:
        return
    from bi_app.config import ConfigError, Settings
    from bi_app.secret_box import box_for

    try:
        box = box_for(Settings.from_env())
    except ConfigError as exc:
        log.warning("channel secrets left in plaintext for the app to encrypt (%s)", exc)
        return
    for channel, value in rows:
        conn.execute(
            sa.update(_table)
            .where(_table.c.channel == channel)
            .values(auth_header_value=box.seal(value))
        )


def upgrade() -> None:
    with op.batch_alter_table("channel_sources", schema=None) as batch_op:
        batch_op.alter_column(
            "auth_header_value",
            existing_type=sa.String(length=500),
            type_=sa.Text(),
            existing_nullable=True,
        )
    _encrypt_plaintext_rows()


def downgrade() -> None:
    op.execute(
        sa.update(_table)
        .where(_table.c.auth_header_value.startswith("fernet:"))
        .values(auth_header_value=None, auth_header_name=None)
    )
    with op.batch_alter_table("channel_sources", schema=None) as batch_op:
        batch_op.alter_column(
            "auth_header_value",
            existing_type=sa.Text(),
            type_=sa.String(length=500),
            existing_nullable=True,
        )

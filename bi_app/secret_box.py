"""Encryption at rest for secrets stored in the database (channel auth header values).

Values are stored as ``fernet:<token>``. The key is ``BI_ENCRYPTION_KEY`` (a Fernet key:
urlsafe base64 of 32 bytes; several comma-separated keys rotate — the first encrypts, every key
decrypts) or, when unset, one derived from ``BI_SECRET_KEY`` with HKDF. The derived key always
decrypts as well, so setting ``BI_ENCRYPTION_KEY`` later keeps older values readable (they are
re-encrypted with it on their next save). A value without the prefix is a plaintext row written
before encryption: readers return it as is and re-store it encrypted.
"""

from __future__ import annotations

import base64
import functools
from dataclasses import dataclass, field

import flask
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bi_app.config import ConfigError, Settings

PREFIX = "fernet:"
HKDF_INFO = b"bi-app channel secrets"


class SecretUnreadable(ValueError):
    """A stored value cannot be decrypted with the configured keys (the key changed)."""


@dataclass(frozen=True)
class SecretBox:
    fernet: MultiFernet = field(repr=False)

    def seal(self, plaintext: str) -> str:
        return PREFIX + self.fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def open(self, stored: str) -> str:
        """The plaintext of a stored value; a value without the prefix is returned unchanged."""
        if not is_sealed(stored):
            return stored
        try:
            return self.fernet.decrypt(stored[len(PREFIX) :].encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError, ValueError):
            raise SecretUnreadable("secret unreadable: re-enter it") from None


def is_sealed(stored: str) -> bool:
    return stored.startswith(PREFIX)


def derived_key(secret_key: str) -> bytes:
    """The Fernet key derived from ``BI_SECRET_KEY`` when ``BI_ENCRYPTION_KEY`` is unset."""
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=HKDF_INFO).derive(
        secret_key.encode("utf-8")
    )
    return base64.urlsafe_b64encode(raw)


@functools.lru_cache(maxsize=8)
def _box(encryption_key: str | None, secret_key: str) -> SecretBox:
    keys: list[Fernet] = []
    for i, text in enumerate((encryption_key or "").split(",")):
        if not text.strip():
            continue
        try:
            keys.append(Fernet(text.strip().encode("ascii")))
        except (ValueError, UnicodeError):
            raise ConfigError(
                f"BI_ENCRYPTION_KEY: key {i + 1} is not a Fernet key (urlsafe base64 of 32 "
                "bytes; generate one with: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())')"
            ) from None
    if secret_key:
        keys.append(Fernet(derived_key(secret_key)))
    if not keys:
        raise ConfigError("BI_ENCRYPTION_KEY or BI_SECRET_KEY: needed to encrypt stored secrets")
    return SecretBox(MultiFernet(keys))


def box_for(settings: Settings) -> SecretBox:
    return _box(settings.encryption_key, settings.secret_key)


_configured: SecretBox | None = None


def init_app(settings: Settings) -> None:
    """Remember the keys of the app created last, for code running outside its app context
    (as :data:`bi_app.extensions.db` remembers its engine)."""
    global _configured
    _configured = box_for(settings)


def current_box() -> SecretBox:
    """The box of the app serving this request or job; else of the app created last in this
    process; else of the environment's settings (command-line tools)."""
    if flask.has_app_context():
        settings = flask.current_app.config.get("BI_SETTINGS")
        if settings is not None:
            return box_for(settings)
    if _configured is None:
        init_app(Settings.from_env())
    return _configured  # type: ignore[return-value]

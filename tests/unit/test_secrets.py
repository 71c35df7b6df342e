"""Secrets stay put (issue 8, M4 and L5): the BI_SECRET_ prefix for auth_env, what the listing
says about a name, encryption of stored secrets, the origin rule, and no secret in a repr()."""

from __future__ import annotations

import base64

import pytest
from cryptography.fernet import Fernet

from bi_app.channels.base import ChannelSourceError, EventRef
from bi_app.channels.config import SourceConfig, build_sources
from bi_app.config import ConfigError
from bi_app.integrations import IntegrationError
from bi_app.integrations.channels import ChannelInput, ChannelRow
from bi_app.integrations.services import ServiceRow, parse_service_form
from bi_app.monitoring import services as monitored
from bi_app.secret_box import PREFIX, SecretUnreadable, box_for, derived_key
from components import admin_integrations_view as view
from tests.conftest import make_settings

SECRET = "Bearer marker-s3cr3t-9f1c"
GOOD = {
    "name": "payments",
    "url": "https://pay.example/health",
    "expected_status": "200",
    "timeout_s": "5",
}


def _texts(node) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, (list, tuple)):
        return [t for child in node for t in _texts(child)]
    children = getattr(node, "children", None)
    return _texts(children) if children is not None else []


# --- auth_env: only BI_SECRET_ names ------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["BI_REDIS_URL", "BI_DATABASE_URL", "BI_SECRET_KEY", "HOME", "PAYMENTS_AUTH", "BI_SECRET_"]
    + ["BI_SECRET_" + "A" * 101, "bi_secret_pay", "BI_SECRET_PAY X", "BI_SECRET_PAY-1"],
)
def test_auth_env_names_without_the_prefix_are_refused(name):
    with pytest.raises(IntegrationError) as info:
        parse_service_form({**GOOD, "auth_env": name})
    assert "BI_SECRET_" in info.value.errors["auth_env"]
    assert not monitored.auth_env_allowed(name)
    with pytest.raises(ValueError, match="BI_SECRET_"):
        monitored.add_service(None, "payments", "https://pay.example/", auth_env=name)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["BI_SECRET_PAY", "BI_SECRET_PAY_2", "BI_SECRET_" + "A" * 100])
def test_auth_env_names_with_the_prefix_are_accepted(name):
    assert parse_service_form({**GOOD, "auth_env": name}).auth_env == name
    assert monitored.auth_env_allowed(name)
    assert not monitored.auth_env_allowed(name + "\n")  # fullmatch: no trailing newline


def test_the_listing_reports_set_or_unset_only_for_allowed_names():
    legacy = ServiceRow(
        "payments",
        "https://pay.example/health",
        200,
        5.0,
        "admin",
        True,
        7,
        "HOME",
        None,
        auth_env_allowed=False,
    )
    texts = _texts(view.services_table([legacy]))
    assert "not allowed: rename to BI_SECRET_…" in texts
    assert "set" not in texts and "not set" not in texts
    allowed = ServiceRow(
        "billing", "https://b.example/", 200, 5.0, "admin", True, 8, "BI_SECRET_BILL", False
    )
    assert "not set" in _texts(view.services_table([allowed]))


def test_the_form_tells_the_prefix():
    texts = " ".join(_texts(view.service_form()))
    assert "BI_SECRET_" in texts


# --- encryption at rest -------------------------------------------------------------------------


def test_a_sealed_value_opens_with_the_same_keys_only():
    box = box_for(make_settings("sqlite://"))
    sealed = box.seal(SECRET)
    assert sealed.startswith(PREFIX) and SECRET not in sealed
    assert box.open(sealed) == SECRET
    assert box.open("plain legacy value") == "plain legacy value"  # written before encryption
    other = box_for(make_settings("sqlite://", secret_key="another-secret-key-0123456789"))
    with pytest.raises(SecretUnreadable, match="secret unreadable: re-enter it"):
        other.open(sealed)
    with pytest.raises(SecretUnreadable):
        box.open(PREFIX + "not-a-token")


def test_the_derived_key_is_hkdf_of_the_secret_key():
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    expected = HKDF(hashes.SHA256(), 32, None, b"bi-app channel secrets").derive(b"k" * 32)
    assert base64.urlsafe_b64decode(derived_key("k" * 32)) == expected
    sealed = box_for(make_settings("sqlite://", secret_key="k" * 32)).seal(SECRET)
    assert Fernet(derived_key("k" * 32)).decrypt(sealed[len(PREFIX) :].encode()) == SECRET.encode()


def test_an_encryption_key_encrypts_and_older_keys_still_decrypt():
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    derived = box_for(make_settings("sqlite://")).seal(SECRET)
    with_old = box_for(make_settings("sqlite://", encryption_key=old_key)).seal(SECRET)
    rotated = box_for(make_settings("sqlite://", encryption_key=f"{new_key},{old_key}"))
    assert rotated.open(with_old) == SECRET and rotated.open(derived) == SECRET
    sealed = rotated.seal(SECRET)
    assert Fernet(new_key.encode()).decrypt(sealed[len(PREFIX) :].encode()) == SECRET.encode()


def test_a_malformed_encryption_key_names_the_variable():
    with pytest.raises(ConfigError, match="BI_ENCRYPTION_KEY"):
        box_for(make_settings("sqlite://", encryption_key="not-a-fernet-key"))


def test_an_unreadable_secret_makes_the_source_fail_saying_so():
    config = SourceConfig(
        "email", "https://stats.example/x", "Authorization", None, secret_unreadable=True
    )
    (source,) = [s for s in build_sources([config]) if s.channel == "email"]
    assert source.kind == "http"
    with pytest.raises(ChannelSourceError, match="secret unreadable: re-enter it"):
        source.fetch(EventRef(1, "E1"))
    row = ChannelRow("email", "http", True, config.url, "Authorization", False, 10.0, True, True)
    assert row.auth_display == "Authorization: secret unreadable: re-enter it"


# --- the origin a secret belongs to -------------------------------------------------------------


@pytest.mark.parametrize(
    "a, b, same",
    [
        ("https://s.example/a/{event_code}", "https://S.example:443/b?x=1", True),
        ("http://s.example/a", "http://s.example:80/", True),
        ("https://s.example/a", "https://s2.example/a", False),
        ("https://s.example/a", "http://s.example/a", False),
        ("https://s.example/a", "https://s.example:8443/a", False),
        ("https://s.example/a", "https://s.example.evil.example/a", False),
        ("https://s.example@evil.example/a", "https://s.example/a", False),
    ],
)
def test_url_origin_is_scheme_host_and_port(a, b, same):
    from bi_app.integrations.channels import url_origin

    assert (url_origin(a) == url_origin(b)) is same


# --- no secret in a repr() ----------------------------------------------------------------------


def test_no_secret_in_any_repr():
    config = SourceConfig("email", "https://stats.example/x", "Authorization", SECRET)
    spec = monitored.ServiceSpec(
        "pay", "https://pay.example/", auth_header=("Authorization", SECRET)
    )
    form = ChannelInput("email", "http", "https://stats.example/x", "Authorization", SECRET)
    settings = make_settings(
        f"postgresql://bi:{SECRET}@db/bi",
        secret_key=SECRET,
        encryption_key=Fernet.generate_key().decode(),
        metrics_token=SECRET,
    )
    for value in (config, spec, form, settings, box_for(settings)):
        assert SECRET not in repr(value), type(value).__name__
    assert settings.encryption_key not in repr(settings)
    assert "email" in repr(config) and "pay.example" in repr(spec)

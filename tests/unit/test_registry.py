"""The callback registry: roles are required, a fallback replaces a failure's outputs, and
database failures reach people as a safe message, never driver text."""

from __future__ import annotations

import logging

import pytest
from dash import Input, Output
from dash.exceptions import PreventUpdate
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import Forbidden

from bi_app.errors import (
    TOO_SLOW_MESSAGE,
    ServiceUnavailable,
    TooSlow,
    is_data_outage,
    is_statement_timeout,
    unavailable_on_database_error,
)
from bi_app.roles import ALL_ROLES, Action, Page
from callbacks import _registry
from components import fallback


def test_a_callback_without_roles_is_refused_at_import():
    with pytest.raises(TypeError):
        _registry.callback(Output("x", "children"), Input("y", "value"))
    with pytest.raises(ValueError, match="at least one role"):
        _registry.callback(Output("x", "children"), Input("y", "value"), roles=())


def test_every_server_callback_declares_known_roles():
    declared = {v for cls in (Page, Action) for k, v in vars(cls).items() if k.isupper()}
    for entry in _registry.registered():
        if entry.clientside is None:
            assert set(entry.roles) <= set(ALL_ROLES), entry.func.__qualname__
            assert entry.roles in declared, (
                f"{entry.func.__qualname__} uses an undeclared role tuple"
            )


def test_fallback_logs_the_failure_once_and_returns_fresh_outputs(caplog):
    def show(value):
        raise RuntimeError(f"boom {value}")

    wrapped = _registry.with_fallback(
        show, fallback.each(fallback.figure("Revenue"), fallback.value(None))
    )
    with caplog.at_level(logging.ERROR):
        first, message = wrapped("x" * 500)
    second, _ = wrapped("y")
    assert message is None
    assert first["layout"]["annotations"][0]["text"] == "Revenue is unavailable right now"
    assert first is not second  # a fresh figure each time: no shared state between requests
    records = [r for r in caplog.records if r.name == __name__]
    assert len(records) == 2 and "show failed for inputs" in records[0].getMessage()
    assert "RuntimeError: boom" in records[0].exc_text
    assert len(records[0].getMessage()) < 200  # a huge input is logged as a bounded repr


@pytest.mark.parametrize("exc", [PreventUpdate(), Forbidden()])
def test_prevent_update_and_http_errors_pass_through_the_fallback(exc):
    def show():
        raise exc

    with pytest.raises(type(exc)):
        _registry.with_fallback(show, fallback.value("never"))()


def test_without_a_fallback_a_data_outage_leaves_the_outputs_and_a_bug_still_raises(caplog):
    def save():
        raise OperationalError("UPDATE t", {}, Exception("connection refused"))

    with caplog.at_level(logging.WARNING), pytest.raises(PreventUpdate):
        _registry.with_fallback(save, None)()
    assert "data unavailable" in caplog.text

    def buggy():
        raise KeyError("bug")

    with pytest.raises(KeyError):
        _registry.with_fallback(buggy, None)()


def test_database_errors_become_a_safe_message_without_driver_text(caplog):
    @unavailable_on_database_error("Performance data")
    def read():
        raise OperationalError(
            "SELECT secret FROM t", {}, Exception("connection to host db.internal refused")
        )

    with caplog.at_level(logging.WARNING), pytest.raises(ServiceUnavailable) as info:
        read()
    assert str(info.value) == "Performance data is unavailable right now; try again in a moment."
    assert "db.internal" not in str(info.value)
    assert "db.internal" in caplog.text  # the operator still sees the cause in the log


def test_the_performance_callback_shows_the_safe_message(monkeypatch):
    from callbacks import ops_performance

    def unavailable(_range):
        raise ServiceUnavailable("Performance data")

    monkeypatch.setattr(ops_performance, "performance_data", unavailable)
    message, *figures = ops_performance.update_performance("24h", 0)
    assert message.children == "Performance data is unavailable right now; try again in a moment."
    assert all(f is ops_performance.no_update for f in figures)


class _Cancelled(Exception):
    """Stands in for psycopg's QueryCanceled: what SQLAlchemy wraps when statement_timeout fires."""

    sqlstate = "57014"


def _timed_out():
    raise OperationalError("SELECT pg_sleep(60)", {}, _Cancelled("canceling statement"))


def test_a_statement_timeout_tells_the_fallback_it_took_too_long(caplog):
    wrapped = _registry.with_fallback(
        _timed_out,
        fallback.each(fallback.figure("Revenue"), fallback.message("Totals"), fallback.value(1)),
    )
    with caplog.at_level(logging.WARNING):
        figure, message, constant = wrapped()
    assert figure["layout"]["annotations"][0]["text"] == TOO_SLOW_MESSAGE
    assert message.children == TOO_SLOW_MESSAGE
    assert constant == 1
    assert "cancelled by the statement timeout" in caplog.text
    assert "Traceback" not in caplog.text  # expected, not a bug: no stack trace in app_logs
    # a factory that takes no reason still gets called
    assert _registry.with_fallback(_timed_out, lambda: "plain")() == "plain"

    # any other database error keeps the "unavailable" wording
    def refused():
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    other = _registry.with_fallback(refused, fallback.message("Totals"))
    assert other().children.startswith("Totals is unavailable right now")


def test_a_service_turns_a_statement_timeout_into_too_slow():
    read = unavailable_on_database_error("Sales data")(_timed_out)
    with pytest.raises(TooSlow) as info:
        read()
    assert str(info.value) == TOO_SLOW_MESSAGE
    assert isinstance(info.value, ServiceUnavailable) and is_data_outage(info.value)
    assert is_statement_timeout(info.value)
    assert not is_statement_timeout(OperationalError("SELECT 1", {}, Exception("refused")))

"""Cache-key normalization: equivalent filters share one key, different ones never do."""

from __future__ import annotations

import datetime as dt
import enum

import pytest

from bi_app.data.keys import (
    argument_key,
    cache_key,
    canonical_arguments,
    check_cacheable,
    key_part,
    normalize_value,
)


def totals(start, end, platforms=None, categories=None, granularity="day"):
    return start, end, platforms, categories, granularity


def other(start, end, platforms=None, categories=None, granularity="day"):
    return start


D = dt.date(2024, 3, 1)
E = dt.date(2024, 3, 31)


class Size(enum.Enum):
    SMALL = "Small"


def test_normalize_values():
    assert normalize_value(["Web", " app ", "web"]) == ("app", "web")
    assert normalize_value(("b", "a")) == normalize_value({"a", "b"}) == ("a", "b")
    assert normalize_value([]) is None
    assert normalize_value(()) is None
    assert normalize_value(["", "  "]) is None
    assert normalize_value("  Week ") == "week"
    assert normalize_value("  Mixed Case ", keep_case=True) == "Mixed Case"
    assert normalize_value(D) is D
    assert normalize_value(Size.SMALL) == "small"
    assert normalize_value([3, 1, 2]) == (1, 2, 3)
    assert (
        normalize_value(7) == 7 and normalize_value(None) is None and normalize_value(True) is True
    )


def test_unkeyable_values_are_refused():
    with pytest.raises(TypeError, match="cannot build a cache key"):
        normalize_value(object())
    with pytest.raises(TypeError):
        normalize_value({"a": 1})


def test_key_parts():
    assert key_part(D) == "2024-03-01"
    assert key_part(dt.datetime(2024, 3, 1, 12, 30)) == "2024-03-01T12:30:00"
    assert key_part(None) == "~"
    assert key_part(("a", "b")) == "(a,b)"
    assert key_part(2.0) == key_part(2) == "2"
    assert key_part(True) != key_part(1)


def test_equivalent_calls_share_a_key():
    base = cache_key("sales", totals, D, E, ("app", "web"), None)
    assert cache_key("sales", totals, D, E, ["web", "APP"]) == base
    assert cache_key("sales", totals, D, E, {"web", "app"}, []) == base
    assert cache_key("sales", totals, start=D, end=E, platforms=[" web", "app", "app"]) == base
    assert (
        cache_key("sales", totals, D, E, ("app", "web"), categories=None, granularity="Day") == base
    )
    # ISO strings and dates are the same day
    assert cache_key("sales", totals, "2024-03-01", "2024-03-31", ("app", "web")) == base


def test_different_calls_get_different_keys():
    base = cache_key("sales", totals, D, E)
    assert cache_key("sales", totals, D, E, ("web",)) != base
    assert cache_key("sales", totals, D, E, None, ("web",)) != cache_key(
        "sales", totals, D, E, ("web",)
    )
    assert cache_key("sales", totals, D, dt.date(2024, 3, 30)) != base
    assert cache_key("sales", totals, D, E, granularity="week") != base
    assert cache_key("ops", totals, D, E) != base
    assert cache_key("sales", other, D, E) != base
    assert base.startswith("sales:test_cache_keys.totals:")


def test_canonical_arguments_fill_defaults_and_bind_positionals():
    import inspect

    canonical = canonical_arguments(inspect.signature(totals), (D, E), {"categories": ["Toys"]})
    assert canonical == {
        "start": D,
        "end": E,
        "platforms": None,
        "categories": ("toys",),
        "granularity": "day",
    }
    kept = canonical_arguments(
        inspect.signature(totals), (D, E), {"granularity": " Day "}, keep_case=("granularity",)
    )
    assert kept["granularity"] == "Day"
    assert len(argument_key(canonical)) == 20


def test_variadic_functions_cannot_be_cached():
    import inspect

    def variadic(*codes):
        return codes

    with pytest.raises(TypeError, match="cannot take"):
        check_cacheable(inspect.signature(variadic), "variadic")

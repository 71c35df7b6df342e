"""Business thresholds an admin can change (segments, churn rules, event benchmarks).

This module is the schema: keys, defaults and validation live in code (:data:`SPECS`), pure, with
no database. The ``business_settings`` table only holds the values an admin changed; reading and
saving them is :mod:`bi_app.data.settings` (cached reads, audited writes that invalidate the data
cache, because figures on every business page depend on them).

Values are typed: counts and days are ``int``, money is ``int`` cents, fractions and percents are
``float``, cost shares a ``dict`` of category to fraction summing to 1. :func:`parse_text` and
:func:`format_text` convert to and from what a person types in the Admin → Settings form.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from bi_app import i18n
from bi_app.db.models import COST_CATEGORIES

log = logging.getLogger(__name__)

Kind = Literal["count", "days", "money", "fraction", "percent", "shares"]
SHARES_TOLERANCE = 0.001
# What a person types is bounded before any arithmetic: Decimal('1e999999999') is a valid
# number, and int() of it builds a billion-digit integer (seconds of CPU, hundreds of MB).
MAX_NUMBER_TEXT = 40
MAX_SHARES_TEXT = 2000
MAX_MAGNITUDE = 18  # powers of ten, either way; every setting's range is far inside


class SettingError(ValueError):
    """A value an admin entered is not acceptable; the message says why, in plain words."""


@dataclass(frozen=True)
class SettingSpec:
    key: str
    label: str
    kind: Kind
    default: Any
    help: str
    minimum: float | None = None
    maximum: float | None = None


SPECS: dict[str, SettingSpec] = {
    s.key: s
    for s in (
        SettingSpec(
            "customers.new_max_visits",
            "New customer: at most this many visits",
            "count",
            3,
            "Customers with up to this many visits are 'new'.",
            1,
            1000,
        ),
        SettingSpec(
            "customers.growing_max_visits",
            "Growing customer: at most this many visits",
            "count",
            10,
            "Above the 'new' limit and up to this many visits a customer is 'growing'; "
            "beyond it, 'loyal'.",
            2,
            10000,
        ),
        SettingSpec(
            "customers.vip_min_spend_cents",
            "VIP: total spend of at least",
            "money",
            100_000_000,
            "Customers whose lifetime spend reaches this amount are VIP, whatever their visits.",
            1,
            10**15,
        ),
        SettingSpec(
            "churn.followup_days",
            "Follow up new customers after (days)",
            "days",
            7,
            "A new customer is tagged for follow-up this many days after the first visit.",
            1,
            365,
        ),
        SettingSpec(
            "churn.new_at_risk_days",
            "New customer at risk after (days without a visit)",
            "days",
            20,
            "A new customer without a visit for this many days is at risk.",
            1,
            365,
        ),
        SettingSpec(
            "churn.reactivation_days",
            "Reactivation needed after (days without a visit)",
            "days",
            30,
            "Any customer without a visit for this many days needs reactivation.",
            1,
            3650,
        ),
        SettingSpec(
            "churn.delay_tolerance",
            "Delay tolerance over the usual interval",
            "fraction",
            0.5,
            "Growing and loyal customers are 'delayed' when the time since the last visit "
            "exceeds their own average interval by more than this share (0.5 = 50%).",
            0,
            10,
        ),
        SettingSpec(
            "events.attendance_min",
            "Minimum attendance rate",
            "fraction",
            0.70,
            "Events whose attendance falls below this share of registrations are flagged.",
            0,
            1,
        ),
        SettingSpec(
            "events.industry_avg_roi_pct",
            "Industry average event ROI (%)",
            "percent",
            25.0,
            "The benchmark event ROI, in percent.",
            -100,
            10000,
        ),
        SettingSpec(
            "events.cost_benchmark_shares",
            "Benchmark cost shares",
            "shares",
            {
                "venue": 0.30,
                "catering": 0.20,
                "technology": 0.12,
                "marketing": 0.18,
                "staff": 0.12,
                "materials": 0.05,
                "other": 0.03,
            },
            "Expected share of each cost category in an event budget; they must add up to 1.",
            0,
            1,
        ),
    )
}

# (lower key, higher key): the first must stay below the second
_ORDERED: tuple[tuple[str, str, str], ...] = (
    (
        "customers.new_max_visits",
        "customers.growing_max_visits",
        "The 'new' visit limit must be below the 'growing' visit limit.",
    ),
    (
        "churn.new_at_risk_days",
        "churn.reactivation_days",
        "'New customer at risk' must come before 'reactivation needed' (fewer days).",
    ),
    (
        "churn.followup_days",
        "churn.new_at_risk_days",
        "The follow-up must come before a new customer is at risk (fewer days).",
    ),
)


def spec(key: str) -> SettingSpec:
    try:
        return SPECS[key]
    except KeyError:
        raise SettingError(f"Unknown setting {str(key)[:64]!r}.") from None


def defaults() -> dict[str, Any]:
    return {key: _copy(s.default) for key, s in SPECS.items()}


def _copy(value: Any) -> Any:
    return dict(value) if isinstance(value, dict) else value


def _bounded(s: SettingSpec, value: float) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise SettingError(f"{s.label}: enter a finite number.")
    if s.minimum is not None and value < s.minimum:
        raise SettingError(f"{s.label}: must be at least {_plain(s, s.minimum)}.")
    if s.maximum is not None and value > s.maximum:
        raise SettingError(f"{s.label}: must be at most {_plain(s, s.maximum)}.")


def _money_digits(currency: str | None = None) -> int:
    """Digits of the minor unit money settings are stored in (``BI_CURRENCY``'s: KRW 0, EUR 2)."""
    return i18n.currency_decimals(currency or i18n.app_currency())


def _units(minor: int, digits: int) -> str:
    """Stored minor units as form text in major units: ``1,000,000`` (KRW), ``1,000.00`` (EUR)."""
    return f"{Decimal(int(minor)).scaleb(-digits):,.{digits}f}"


def _plain(s: SettingSpec, bound: float) -> str:
    if s.kind == "money":
        return _units(int(bound), _money_digits())
    return f"{bound:g}"


def validate(key: str, value: Any) -> Any:
    """The typed, checked value for ``key``; raises :class:`SettingError` with a readable reason."""
    s = spec(key)
    if s.kind == "shares":
        return _validate_shares(s, value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SettingError(f"{s.label}: expected a number, got {str(value)[:40]!r}.")
    if isinstance(value, float) and not math.isfinite(value):
        raise SettingError(f"{s.label}: enter a finite number.")
    if s.kind in ("count", "days", "money") and isinstance(value, float) and not value.is_integer():
        raise SettingError(f"{s.label}: expected a whole number.")
    _bounded(s, value)  # before converting: float() of a huge int overflows
    return int(value) if s.kind in ("count", "days", "money") else float(value)


def _validate_shares(s: SettingSpec, value: Any) -> dict[str, float]:
    if not isinstance(value, Mapping):
        raise SettingError(f"{s.label}: expected one share per cost category.")
    unknown = sorted(str(k)[:20] for k in value if k not in COST_CATEGORIES)
    if unknown:
        raise SettingError(
            f"{s.label}: unknown categories {', '.join(unknown)} "
            f"(use {', '.join(COST_CATEGORIES)})."
        )
    missing = [c for c in COST_CATEGORIES if c not in value]
    if missing:
        raise SettingError(f"{s.label}: missing {', '.join(missing)}.")
    shares: dict[str, float] = {}
    for category in COST_CATEGORIES:
        share = value[category]
        if (
            isinstance(share, bool)
            or not isinstance(share, (int, float))
            or not math.isfinite(share)
        ):
            raise SettingError(f"{s.label}: the share of {category} must be a number.")
        if not 0 <= share <= 1:
            raise SettingError(f"{s.label}: the share of {category} must be between 0 and 1.")
        shares[category] = float(share)
    total = sum(shares.values())
    if abs(total - 1.0) > SHARES_TOLERANCE:
        raise SettingError(f"{s.label}: the shares add up to {total:.3f}; they must add up to 1.")
    return shares


def check_consistency(values: Mapping[str, Any]) -> None:
    """Rules between keys (e.g. new < growing visits) on a complete set of values."""
    for low, high, message in _ORDERED:
        if values[low] >= values[high]:
            raise SettingError(message)


# --- text form ---------------------------------------------------------------------------------

_SHARE_ITEM = re.compile(r"^\s*([a-z_]+)\s*[=:]\s*([-+0-9.eE]+)\s*$")


def _number(s: SettingSpec, text: str) -> Decimal:
    cleaned = text.strip().replace(",", "").replace("_", "").replace(" ", "").rstrip("%")
    if len(cleaned) > MAX_NUMBER_TEXT:
        raise SettingError(f"{s.label}: too long for a number.")
    try:
        number = Decimal(cleaned)
    except InvalidOperation:
        raise SettingError(f"{s.label}: {text.strip()[:40]!r} is not a number.") from None
    if not number.is_finite():
        raise SettingError(f"{s.label}: enter a finite number.")
    if not number:
        return Decimal(0)  # 0E+999999999 is zero, without its exponent
    if not -MAX_MAGNITUDE <= number.adjusted() <= MAX_MAGNITUDE:
        raise SettingError(f"{s.label}: {cleaned[:40]!r} is out of range.")
    return number


def parse_text(key: str, text: object, currency: str | None = None) -> Any:
    """What a person typed in the settings form, as a validated value. Money is typed in
    currency units (``1,000,000.00``) and stored in the minor unit of ``currency`` (default
    ``BI_CURRENCY``; KRW has none, EUR cents); shares as ``venue=0.3, ...``."""
    s = spec(key)
    raw = "" if text is None else str(text)
    if not raw.strip():
        raise SettingError(f"{s.label}: enter a value.")
    if s.kind == "shares":
        if len(raw) > MAX_SHARES_TEXT:
            raise SettingError(f"{s.label}: too long (at most {MAX_SHARES_TEXT} characters).")
        return validate(key, _parse_shares(s, raw))
    number = _number(s, raw)
    if s.kind == "money":
        digits = _money_digits(currency)
        minor = number.scaleb(digits)
        if minor != minor.to_integral_value():
            if digits == 0:
                raise SettingError(f"{s.label}: whole amounts only (no decimals).")
            raise SettingError(f"{s.label}: at most {digits} decimals.")
        return validate(key, int(minor))
    if s.kind in ("count", "days"):
        if number != number.to_integral_value():
            raise SettingError(f"{s.label}: expected a whole number.")
        return validate(key, int(number))
    return validate(key, float(number))


def _parse_shares(s: SettingSpec, raw: str) -> dict[str, float]:
    text = raw.strip()
    if text.startswith("{"):
        try:
            loaded = json.loads(text)
        except (ValueError, RecursionError):  # nesting is bounded by the text's length only
            raise SettingError(f"{s.label}: not valid JSON.") from None
        if not isinstance(loaded, dict):
            raise SettingError(f"{s.label}: expected category=share pairs.")
        return loaded
    shares: dict[str, float] = {}
    for item in re.split(r"[,;\n]", text):
        if not item.strip():
            continue
        match = _SHARE_ITEM.match(item.lower())
        if not match:
            raise SettingError(
                f"{s.label}: write each share as category=0.25 ({item.strip()[:30]!r})."
            )
        try:
            shares[match.group(1)] = float(match.group(2))
        except ValueError:
            raise SettingError(f"{s.label}: {match.group(2)!r} is not a number.") from None
    return shares


def format_text(key: str, value: Any, currency: str | None = None) -> str:
    """The form text for a stored value (the inverse of :func:`parse_text`)."""
    s = spec(key)
    if s.kind == "shares":
        return ", ".join(f"{c}={value[c]:g}" for c in COST_CATEGORIES if c in value)
    if s.kind == "money":
        return _units(int(value), _money_digits(currency))
    if s.kind in ("count", "days"):
        return str(int(value))
    return f"{float(value):g}"


def parse_form(texts: Mapping[str, object]) -> tuple[dict[str, Any], dict[str, str]]:
    """Parse a whole form: ``({key: value}, {key: error})``; unknown keys are errors too."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for key, text in texts.items():
        try:
            values[key] = parse_text(key, text)
        except SettingError as exc:
            errors[key] = str(exc)
    return values, errors

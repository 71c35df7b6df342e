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
from bi_app.i18n import N_, _

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
            N_("New customer: at most this many visits"),
            "count",
            3,
            N_("Customers with up to this many visits are 'new'."),
            1,
            1000,
        ),
        SettingSpec(
            "customers.growing_max_visits",
            N_("Growing customer: at most this many visits"),
            "count",
            10,
            N_(
                "Above the 'new' limit and up to this many visits a customer is 'growing'; "
                "beyond it, 'loyal'."
            ),
            2,
            10000,
        ),
        SettingSpec(
            "customers.vip_min_spend_cents",
            N_("VIP: total spend of at least"),
            "money",
            100_000_000,
            N_(
                "Customers whose lifetime spend reaches this amount are VIP, whatever their visits."
            ),
            1,
            10**15,
        ),
        SettingSpec(
            "churn.followup_days",
            N_("Follow up new customers after (days)"),
            "days",
            7,
            N_("A new customer is tagged for follow-up this many days after the first visit."),
            1,
            365,
        ),
        SettingSpec(
            "churn.new_at_risk_days",
            N_("New customer at risk after (days without a visit)"),
            "days",
            20,
            N_("A new customer without a visit for this many days is at risk."),
            1,
            365,
        ),
        SettingSpec(
            "churn.reactivation_days",
            N_("Reactivation needed after (days without a visit)"),
            "days",
            30,
            N_("Any customer without a visit for this many days needs reactivation."),
            1,
            3650,
        ),
        SettingSpec(
            "churn.delay_tolerance",
            N_("Delay tolerance over the usual interval"),
            "fraction",
            0.5,
            N_(
                "Growing and loyal customers are 'delayed' when the time since the last visit "
                "exceeds their own average interval by more than this share (0.5 = 50%)."
            ),
            0,
            10,
        ),
        SettingSpec(
            "events.attendance_min",
            N_("Minimum attendance rate"),
            "fraction",
            0.70,
            N_("Events whose attendance falls below this share of registrations are flagged."),
            0,
            1,
        ),
        SettingSpec(
            "events.industry_avg_roi_pct",
            N_("Industry average event ROI (%)"),
            "percent",
            25.0,
            N_("The benchmark event ROI, in percent."),
            -100,
            10000,
        ),
        SettingSpec(
            "events.cost_benchmark_shares",
            N_("Benchmark cost shares"),
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
            N_("Expected share of each cost category in an event budget; they must add up to 1."),
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
        N_("The 'new' visit limit must be below the 'growing' visit limit."),
    ),
    (
        "churn.new_at_risk_days",
        "churn.reactivation_days",
        N_("'New customer at risk' must come before 'reactivation needed' (fewer days)."),
    ),
    (
        "churn.followup_days",
        "churn.new_at_risk_days",
        N_("The follow-up must come before a new customer is at risk (fewer days)."),
    ),
)


def spec(key: str) -> SettingSpec:
    try:
        return SPECS[key]
    except KeyError:
        raise SettingError(_("Unknown setting %(key)s.", key=repr(str(key)[:64]))) from None


def defaults() -> dict[str, Any]:
    return {key: _copy(s.default) for key, s in SPECS.items()}


def _copy(value: Any) -> Any:
    return dict(value) if isinstance(value, dict) else value


def _bounded(s: SettingSpec, value: float) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise SettingError(_("%(setting)s: enter a finite number.", setting=_(s.label)))
    if s.minimum is not None and value < s.minimum:
        raise SettingError(
            _(
                "%(setting)s: must be at least %(minimum)s.",
                setting=_(s.label),
                minimum=_plain(s, s.minimum),
            )
        )
    if s.maximum is not None and value > s.maximum:
        raise SettingError(
            _(
                "%(setting)s: must be at most %(maximum)s.",
                setting=_(s.label),
                maximum=_plain(s, s.maximum),
            )
        )


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
        raise SettingError(
            _(
                "%(setting)s: expected a number, got %(value)s.",
                setting=_(s.label),
                value=repr(str(value)[:40]),
            )
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise SettingError(_("%(setting)s: enter a finite number.", setting=_(s.label)))
    if s.kind in ("count", "days", "money") and isinstance(value, float) and not value.is_integer():
        raise SettingError(_("%(setting)s: expected a whole number.", setting=_(s.label)))
    _bounded(s, value)  # before converting: float() of a huge int overflows
    return int(value) if s.kind in ("count", "days", "money") else float(value)


def _validate_shares(s: SettingSpec, value: Any) -> dict[str, float]:
    if not isinstance(value, Mapping):
        raise SettingError(
            _("%(setting)s: expected one share per cost category.", setting=_(s.label))
        )
    unknown = sorted(str(k)[:20] for k in value if k not in COST_CATEGORIES)
    if unknown:
        raise SettingError(
            _(
                "%(setting)s: unknown categories %(unknown)s (use %(cost_categories)s).",
                setting=_(s.label),
                unknown=", ".join(unknown),
                cost_categories=", ".join(COST_CATEGORIES),
            )
        )
    missing = [c for c in COST_CATEGORIES if c not in value]
    if missing:
        raise SettingError(
            _("%(setting)s: missing %(missing)s.", setting=_(s.label), missing=", ".join(missing))
        )
    shares: dict[str, float] = {}
    for category in COST_CATEGORIES:
        share = value[category]
        if (
            isinstance(share, bool)
            or not isinstance(share, (int, float))
            or not math.isfinite(share)
        ):
            raise SettingError(
                _(
                    "%(setting)s: the share of %(category)s must be a number.",
                    setting=_(s.label),
                    category=category,
                )
            )
        if not 0 <= share <= 1:
            raise SettingError(
                _(
                    "%(setting)s: the share of %(category)s must be between 0 and 1.",
                    setting=_(s.label),
                    category=category,
                )
            )
        shares[category] = float(share)
    total = sum(shares.values())
    if abs(total - 1.0) > SHARES_TOLERANCE:
        raise SettingError(
            _(
                "%(setting)s: the shares add up to %(total)s; they must add up to 1.",
                setting=_(s.label),
                total=format(total, ".3f"),
            )
        )
    return shares


def check_consistency(values: Mapping[str, Any]) -> None:
    """Rules between keys (e.g. new < growing visits) on a complete set of values."""
    for low, high, message in _ORDERED:
        if values[low] >= values[high]:
            raise SettingError(_(message))


# --- text form ---------------------------------------------------------------------------------

_SHARE_ITEM = re.compile(r"^\s*([a-z_]+)\s*[=:]\s*([-+0-9.eE]+)\s*$")


def _number(s: SettingSpec, text: str) -> Decimal:
    cleaned = text.strip().replace(",", "").replace("_", "").replace(" ", "").rstrip("%")
    if len(cleaned) > MAX_NUMBER_TEXT:
        raise SettingError(_("%(setting)s: too long for a number.", setting=_(s.label)))
    try:
        number = Decimal(cleaned)
    except InvalidOperation:
        raise SettingError(
            _(
                "%(setting)s: %(value)s is not a number.",
                setting=_(s.label),
                value=repr(text.strip()[:40]),
            )
        ) from None
    if not number.is_finite():
        raise SettingError(_("%(setting)s: enter a finite number.", setting=_(s.label)))
    if not number:
        return Decimal(0)  # 0E+999999999 is zero, without its exponent
    if not -MAX_MAGNITUDE <= number.adjusted() <= MAX_MAGNITUDE:
        raise SettingError(
            _(
                "%(setting)s: %(cleaned)s is out of range.",
                setting=_(s.label),
                cleaned=repr(cleaned[:40]),
            )
        )
    return number


def parse_text(key: str, text: object, currency: str | None = None) -> Any:
    """What a person typed in the settings form, as a validated value. Money is typed in
    currency units (``1,000,000.00``) and stored in the minor unit of ``currency`` (default
    ``BI_CURRENCY``; KRW has none, EUR cents); shares as ``venue=0.3, ...``."""
    s = spec(key)
    raw = "" if text is None else str(text)
    if not raw.strip():
        raise SettingError(_("%(setting)s: enter a value.", setting=_(s.label)))
    if s.kind == "shares":
        if len(raw) > MAX_SHARES_TEXT:
            raise SettingError(
                _(
                    "%(setting)s: too long (at most %(max_shares_text)s characters).",
                    setting=_(s.label),
                    max_shares_text=MAX_SHARES_TEXT,
                )
            )
        return validate(key, _parse_shares(s, raw))
    number = _number(s, raw)
    if s.kind == "money":
        digits = _money_digits(currency)
        minor = number.scaleb(digits)
        if minor != minor.to_integral_value():
            if digits == 0:
                raise SettingError(
                    _("%(setting)s: whole amounts only (no decimals).", setting=_(s.label))
                )
            raise SettingError(
                _("%(setting)s: at most %(digits)s decimals.", setting=_(s.label), digits=digits)
            )
        return validate(key, int(minor))
    if s.kind in ("count", "days"):
        if number != number.to_integral_value():
            raise SettingError(_("%(setting)s: expected a whole number.", setting=_(s.label)))
        return validate(key, int(number))
    return validate(key, float(number))


def _parse_shares(s: SettingSpec, raw: str) -> dict[str, float]:
    text = raw.strip()
    if text.startswith("{"):
        try:
            loaded = json.loads(text)
        except (ValueError, RecursionError):  # nesting is bounded by the text's length only
            raise SettingError(_("%(setting)s: not valid JSON.", setting=_(s.label))) from None
        if not isinstance(loaded, dict):
            raise SettingError(_("%(setting)s: expected category=share pairs.", setting=_(s.label)))
        return loaded
    shares: dict[str, float] = {}
    for item in re.split(r"[,;\n]", text):
        if not item.strip():
            continue
        match = _SHARE_ITEM.match(item.lower())
        if not match:
            raise SettingError(
                _(
                    "%(setting)s: write each share as category=0.25 (%(value)s).",
                    setting=_(s.label),
                    value=repr(item.strip()[:30]),
                )
            )
        try:
            shares[match.group(1)] = float(match.group(2))
        except ValueError:
            raise SettingError(
                _(
                    "%(setting)s: %(value)s is not a number.",
                    setting=_(s.label),
                    value=repr(match.group(2)),
                )
            ) from None
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

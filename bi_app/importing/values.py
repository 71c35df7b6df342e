"""Cell parsers: turn one raw cell (a CSV string, an Excel or Parquet value) into a typed value.

Each parser returns the value (``None`` for an empty cell) or raises :class:`CellError` with a
message written for the person who made the file. Limits that protect the product (string
lengths, plausible dates) live here so CSV, Excel and Parquet are judged alike.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from bi_app.export import formula_start
from bi_app.i18n import N_, _

EARLIEST = dt.datetime(1900, 1, 1)
# How many days after "now" a date may lie (BI_IMPORT_FUTURE_DAYS): clocks and time zones differ,
# and some businesses import planned orders; anything later is a typo, not data.
DEFAULT_FUTURE_DAYS = 1
FUTURE_SETTING = "BI_IMPORT_FUTURE_DAYS"
# The codes of platforms and categories: the same rule as the filters in the URL
# (bi_app.filters._CODE_RE), so every imported code can be filtered on.
CODE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
CODE_RULE = N_("1 to 64 lower-case letters, digits, _ or -, starting with a letter or digit")
_INT_RE = re.compile(r"^[+-]?\d+$")
# Whole numbers and amounts have at most this many digits before the decimal point: every limit
# in the schemas is far below 10**18, and bounding the digits first keeps int() from meeting a
# 5,000-digit cell (Python refuses to convert more than 4,300 digits, and big ones cost CPU).
MAX_DIGITS = 18
# Text longer than this is not a number whatever it holds (digits, decimals, sign and spaces).
MAX_NUMBER_TEXT = 64
_DECIMAL_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
# an unsigned amount with at most 15 digits before the point: parsed without Decimal
PLAIN_AMOUNT_RE = re.compile(r"^\s*\d{1,15}(\.\d{0,12})?\s*$", re.ASCII)
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_TRUE = frozenset({"true", "yes", "y", "1"})
_FALSE = frozenset({"false", "no", "n", "0"})


class CellError(ValueError):
    """A cell's value is not acceptable; the message says why in plain words."""


def is_empty(value: Any) -> bool:
    if type(value) is str:  # the common case (every CSV cell): checked first
        return not value or value.isspace()
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _too_long() -> CellError:
    return CellError(
        _(
            "number too long: at most %(digits)s digits before the decimal point",
            digits=MAX_DIGITS,
        )
    )


def _integer_digits(value: Decimal) -> int:
    """How many digits ``value`` has before its decimal point (0 for values below 1)."""
    return max(value.adjusted() + 1, 0) if value.is_finite() and value else 0


def _number_as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and value.bit_length() > 1000:
        # str() of an int beyond 4,300 digits raises; no one reads a number this long anyway
        return f"(a whole number of about {int(value.bit_length() * 0.30103) + 1:,} digits)"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def parse_text(value: Any, *, max_length: int, choices: Sequence[str] = ()) -> str | None:
    if is_empty(value):
        return None
    if isinstance(value, (dt.date, dt.datetime)):
        raise CellError(_("expected text, found a date"))
    text = value.strip() if isinstance(value, str) else _number_as_text(value)
    # Most text starts with a letter or digit and holds no control character: it can neither be
    # a formula nor need the control-character search (the checks cost more than the rest).
    if not (text[:1].isalnum() and text.isprintable()):
        _check_unsafe_text(text)
    if len(text) > max_length:
        raise CellError(
            _(
                "is %(length)s characters long; at most %(limit)s are allowed",
                length=f"{len(text):,}",
                limit=max_length,
            )
        )
    if choices:
        lowered = text.lower()
        if lowered not in choices:
            raise CellError(_("must be one of: %(choices)s", choices=", ".join(choices)))
        return lowered
    return text


def _check_unsafe_text(text: str) -> None:
    # Spreadsheets execute cells that start with = + - @ (CSV/formula injection, DDE), after
    # blanks and in their full-width forms too; plain negative numbers are harmless text.
    start = formula_start(text)
    if start is not None and not _DECIMAL_RE.match(text):
        raise CellError(
            _(
                "looks like a spreadsheet formula (starts with %(start)s); such cells are "
                "refused because spreadsheets would run them",
                start=repr(start),
            )
        )
    if _CONTROL_RE.search(text):
        raise CellError(_("contains control characters"))


def parse_int(value: Any, *, minimum: int, maximum: int) -> int | None:
    if is_empty(value):
        return None
    if isinstance(value, bool):
        raise CellError(_("expected a whole number, found true/false"))
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if not value.is_integer():
            raise CellError(_("expected a whole number"))
        number = int(value)
    elif isinstance(value, Decimal):
        if not value.is_finite() or value != value.to_integral_value():
            raise CellError(_("expected a whole number"))
        if _integer_digits(value) > MAX_DIGITS:
            raise _too_long()
        number = int(value)
    elif isinstance(value, str) and _INT_RE.match(text := value.strip()):
        if len(text.lstrip("+-").lstrip("0")) > MAX_DIGITS:
            raise _too_long()
        number = int(text)
    else:
        raise CellError(_("expected a whole number"))
    return _in_range(number, minimum, maximum)


def _in_range(number: int, minimum: int, maximum: int) -> int:
    if number < minimum:
        raise CellError(
            _("must not be negative")
            if minimum == 0
            else _("must be at least %(minimum)s", minimum=f"{minimum:,}")
        )
    if number > maximum:
        raise CellError(_("must be at most %(maximum)s", maximum=f"{maximum:,}"))
    return number


def parse_money(value: Any, *, decimals: int, minimum: int, maximum: int) -> int | None:
    """An amount in currency units (``12.50``) as integer minor units (``1250``)."""
    if is_empty(value):
        return None
    if type(value) is str and PLAIN_AMOUNT_RE.match(value):  # the common case, without Decimal
        whole, _sep, fraction = value.strip().partition(".")
        fraction = fraction.rstrip("0")
        if len(fraction) > decimals:
            raise CellError(_("has more than %(decimals)s decimal places", decimals=decimals))
        minor = int(whole or "0") * 10**decimals + int(fraction.ljust(decimals, "0") or "0")
        return _in_range(minor, minimum, maximum)
    if isinstance(value, bool):
        raise CellError(_("expected an amount, found true/false"))
    if isinstance(value, (int, Decimal)):
        amount = Decimal(value)
        if not amount.is_finite():
            raise CellError(_("expected an amount"))
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise CellError(_("expected an amount"))
        amount = Decimal(repr(value))
    elif isinstance(value, str):
        text = value.strip()
        if "," in text:
            raise CellError(_("use a dot as the decimal separator and no thousands separators"))
        if not _DECIMAL_RE.match(text):
            raise CellError(_("expected an amount such as 12.50"))
        if len(text) > MAX_NUMBER_TEXT:
            raise CellError(
                _("number too long: at most %(limit)s characters", limit=MAX_NUMBER_TEXT)
            )
        try:
            amount = Decimal(text)
        except InvalidOperation:
            raise CellError(_("expected an amount such as 12.50")) from None
    else:
        raise CellError(_("expected an amount such as 12.50"))
    if _integer_digits(amount) > MAX_DIGITS:
        raise _too_long()
    minor = amount.scaleb(decimals)
    if minor != minor.to_integral_value():
        raise CellError(_("has more than %(decimals)s decimal places", decimals=decimals))
    return _in_range(int(minor), minimum, maximum)


def _check_time(moment: dt.datetime, now: dt.datetime, future_days: int) -> dt.datetime:
    if moment < EARLIEST:
        raise CellError(_("is before %(earliest)s", earliest=f"{EARLIEST:%Y-%m-%d}"))
    latest = now + dt.timedelta(days=future_days)
    if moment > latest:
        raise CellError(
            _(
                "is in the future (after %(latest)s UTC): dates may lie at most %(days)s "
                "day(s) ahead; %(setting)s sets how many",
                latest=f"{latest:%Y-%m-%d %H:%M}",
                days=future_days,
                setting=FUTURE_SETTING,
            )
        )
    return moment


def parse_code(value: Any) -> str | None:
    """A platform or category code, lower-cased (``Web`` is ``web``)."""
    if is_empty(value):
        return None
    if isinstance(value, (dt.date, dt.datetime)):
        raise CellError(_("expected a code, found a date"))
    text = (value if isinstance(value, str) else _number_as_text(value)).strip().lower()
    if not CODE_RE.match(text):
        raise CellError(_("is not a valid code: use %(rule)s", rule=_(CODE_RULE)))
    return text


def parse_datetime(
    value: Any, *, now: dt.datetime, future_days: int = DEFAULT_FUTURE_DAYS
) -> dt.datetime | None:
    """A moment as naive UTC; text is ISO 8601 (``2024-05-01 14:30``, offsets like ``+02:00``)."""
    if is_empty(value):
        return None
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime.combine(value, dt.time())
    elif isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise CellError(
                _("expected a date and time like 2024-05-01 14:30 (ISO 8601)")
            ) from None
    else:
        raise CellError(_("expected a date and time like 2024-05-01 14:30 (ISO 8601)"))
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return _check_time(moment, now, future_days)


def parse_date(
    value: Any, *, now: dt.datetime, future_days: int = DEFAULT_FUTURE_DAYS
) -> dt.date | None:
    if is_empty(value):
        return None
    if isinstance(value, dt.datetime):
        if value.time() != dt.time():
            raise CellError(_("expected a date without a time of day"))
        day = value.date()
    elif isinstance(value, dt.date):
        day = value
    elif isinstance(value, str):
        try:
            day = dt.date.fromisoformat(value.strip())
        except ValueError:
            raise CellError(_("expected a date like 2024-05-01 (ISO 8601)")) from None
    else:
        raise CellError(_("expected a date like 2024-05-01 (ISO 8601)"))
    _check_time(dt.datetime.combine(day, dt.time()), now, future_days)
    return day


def parse_bool(value: Any) -> bool | None:
    if is_empty(value):
        return None
    if isinstance(value, bool):
        return value
    text = _number_as_text(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise CellError(_("expected true or false"))


def shown(value: Any, limit: int = 80) -> str:
    """A cell value as the error report shows it: text, shortened."""
    if is_empty(value):
        return ""
    text = value.isoformat(sep=" ") if isinstance(value, dt.datetime) else _number_as_text(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"

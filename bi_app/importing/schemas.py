"""What each kind of import file looks like: its columns, their types and limits, its key.

These specs drive validation, the templates users download and the help shown on the page, so
the three never disagree.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from bi_app.db.models import COST_CATEGORIES, ORDER_STATUSES
from bi_app.i18n import N_, _
from bi_app.importing import values

FieldType = Literal["text", "code", "choice", "int", "money", "datetime", "date", "bool"]
GENDERS = ("female", "male", "other")
REVENUE_SOURCES = ("tickets", "sponsorship", "sales", "other")
MAX_MONEY_UNITS = 10**10
MAX_COUNT = 10**12


@dataclass(frozen=True)
class Field:
    name: str
    type: FieldType
    required: bool = False
    max_length: int = 200
    choices: tuple[str, ...] = ()
    minimum: int = 0
    maximum: int = MAX_COUNT
    example: Any = ""
    help: str = ""
    reference: bool = False  # a code resolved against existing rows (see validate.REFERENCES)
    creatable: bool = False  # a reference "Create missing" may add when it is unknown

    def parse(
        self,
        raw: Any,
        *,
        now: dt.datetime,
        decimals: int,
        future_days: int = values.DEFAULT_FUTURE_DAYS,
    ) -> Any:
        """The typed value of one cell, or :class:`values.CellError`."""
        if values.is_empty(raw):
            if self.required:
                raise values.CellError(_("is required"))
            return None
        if self.type == "code":
            return values.parse_code(raw)
        if self.type in ("text", "choice"):
            return values.parse_text(raw, max_length=self.max_length, choices=self.choices)
        if self.type == "int":
            return values.parse_int(raw, minimum=self.minimum, maximum=self.maximum)
        if self.type == "money":
            return values.parse_money(
                raw,
                decimals=decimals,
                minimum=self.minimum * 10**decimals,
                maximum=self.maximum * 10**decimals,
            )
        if self.type == "datetime":
            return values.parse_datetime(raw, now=now, future_days=future_days)
        if self.type == "date":
            return values.parse_date(raw, now=now, future_days=future_days)
        return values.parse_bool(raw)

    def parser(
        self, *, now: dt.datetime, decimals: int, future_days: int = values.DEFAULT_FUTURE_DAYS
    ) -> Callable[[Any], Any]:
        """:meth:`parse` bound to one file's settings, with a shortcut for the common cell: text
        that is plainly valid (a word, a code, a whole number or an amount within the limits,
        no control character, nothing a spreadsheet would run) skips the general checks, which
        would give the same answer. Millions of cells go through here."""

        def general(raw: Any) -> Any:
            return self.parse(raw, now=now, decimals=decimals, future_days=future_days)

        fast = self._shortcut(decimals)
        if fast is None:
            return general
        limit = self.max_length

        def parse(raw: Any) -> Any:
            if type(raw) is str:
                text = raw.strip()
                if text and len(text) <= limit and text[:1].isalnum() and text.isprintable():
                    value = fast(text)
                    if value is not None:
                        return value
            return general(raw)

        return parse

    def _shortcut(self, decimals: int) -> Callable[[str], Any] | None:
        """The value of plainly valid text of this field's type, or None to take the general
        way (which also explains what is wrong)."""
        low, high = self.minimum, self.maximum
        if self.type == "text":
            return lambda text: text
        if self.type == "code":
            return lambda text: text.lower() if values.CODE_RE.match(text.lower()) else None
        if self.type == "choice":
            return lambda text: text.lower() if text.lower() in self.choices else None
        if self.type == "int":
            return lambda text: (
                int(text)
                if text.isdigit() and len(text) <= 15 and low <= int(text) <= high
                else None
            )
        if self.type == "money":
            scale = 10**decimals

            def money(text: str) -> int | None:
                if not values.PLAIN_AMOUNT_RE.match(text):
                    return None
                whole, _sep, fraction = text.partition(".")
                fraction = fraction.rstrip("0")
                if len(fraction) > decimals:
                    return None
                minor = int(whole) * scale + int(fraction.ljust(decimals, "0") or "0")
                return minor if low * scale <= minor <= high * scale else None

            return money
        return None

    def describe(self) -> str:
        """What the column holds, in the current locale (the Import page's column help)."""
        if self.type == "code":
            return _("code: %(rule)s (capitals are lower-cased)", rule=_(values.CODE_RULE))
        if self.type == "choice":
            return _("one of: %(choices)s", choices=", ".join(self.choices))
        if self.type == "text":
            return _("text, up to %(limit)s characters", limit=self.max_length)
        if self.type == "int":
            return _("whole number, %(minimum)s or more", minimum=f"{self.minimum:,}")
        if self.type == "money":
            return _("amount in currency units, e.g. 12.50")
        if self.type == "datetime":
            return _("date and time, ISO 8601 (2024-05-01 14:30; UTC unless an offset is given)")
        if self.type == "date":
            return _("date, ISO 8601 (2024-05-01)")
        return _("true or false")


@dataclass(frozen=True)
class ImportKind:
    name: str
    label: str
    description: str
    fields: tuple[Field, ...]
    key: tuple[str, ...]  # natural key within the file (and, resolved, in the database)

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.required)

    @property
    def references(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.reference)

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)


def _code(
    name: str,
    what: str,
    *,
    required: bool = True,
    example: str = "",
    creatable: bool = False,
    code: bool = False,
) -> Field:
    """A column naming a row of another table (``what`` says which, for the column help: an
    N_()-marked whole sentence, which for a ``creatable`` column says so); ``code=True`` for
    platform and category codes, lower-cased and checked like the code columns of their own
    files."""
    return Field(
        name,
        "code" if code else "text",
        required=required,
        max_length=64,
        example=example,
        help=what,
        reference=True,
        creatable=creatable,
    )


def _reference_kind(
    name: str, label: str, description: str, code_help: str, code: str, title: str
) -> ImportKind:
    """Platforms and categories: a code (the key the filters and URLs use) and a name."""
    return ImportKind(
        name,
        label,
        description,
        (
            Field("code", "code", True, 64, example=code, help=code_help),
            Field("name", "text", True, 128, example=title, help=N_("the name people see")),
        ),
        ("code",),
    )


KINDS: dict[str, ImportKind] = {
    k.name: k
    for k in (
        _reference_kind(
            "platforms",
            N_("Sales platforms"),
            N_(
                "One row per sales platform; re-importing the same code renames it. Codes are "
                "lower-cased and cannot be changed later (links and filters use them)."
            ),
            N_("the sales platform's code"),
            "web",
            "Web shop",
        ),
        _reference_kind(
            "categories",
            N_("Product categories"),
            N_(
                "One row per product category; re-importing the same code renames it. Codes are "
                "lower-cased and cannot be changed later (links and filters use them)."
            ),
            N_("the product category's code"),
            "electronics",
            "Electronics",
        ),
        ImportKind(
            "customers",
            N_("Customers"),
            N_("One row per customer; re-importing the same external_id updates the customer."),
            (
                Field(
                    "external_id", "text", True, 64, example="C-100001", help=N_("your customer id")
                ),
                Field("name", "text", True, 200, example="Ada Lovelace"),
                Field("email", "text", False, 254, example="ada@example.com"),
                Field("region", "text", False, 64, example="DACH"),
                Field("gender", "choice", False, choices=GENDERS, example="female"),
                Field(
                    "birth_year",
                    "int",
                    False,
                    minimum=1900,
                    maximum=dt.date.today().year,
                    example=1985,
                ),
                Field(
                    "created_at",
                    "datetime",
                    False,
                    example="2024-01-15 09:30:00",
                    help=N_("sign-up time; kept when omitted"),
                ),
            ),
            ("external_id",),
        ),
        ImportKind(
            "products",
            N_("Products"),
            N_("One row per product; re-importing the same sku updates it."),
            (
                Field("sku", "text", True, 64, example="SKU-0001"),
                Field("name", "text", True, 200, example="Wireless Earbuds"),
                _code(
                    "category_code",
                    N_(
                        "code of an existing product category; with “Create missing” a new one "
                        "is added"
                    ),
                    example="electronics",
                    creatable=True,
                    code=True,
                ),
                Field("unit_price", "money", True, example="79.90"),
                Field("unit_cost", "money", False, example="41.00"),
                Field("active", "bool", False, example="true"),
            ),
            ("sku",),
        ),
        ImportKind(
            "orders",
            N_("Orders with items"),
            N_(
                "One row per order ITEM. Rows with the same order_number form one order and must "
                "agree on customer, platform, status and time; re-importing an order replaces its "
                "items. The order total is the sum of quantity × unit_price."
            ),
            (
                Field("order_number", "text", True, 64, example="ORD-2024-000001"),
                _code(
                    "customer_external_id",
                    N_(
                        "external_id of an existing customer; with “Create missing” a new one is "
                        "added"
                    ),
                    example="C-100001",
                    creatable=True,
                ),
                _code(
                    "platform_code",
                    N_(
                        "code of an existing sales platform; with “Create missing” a new one is "
                        "added"
                    ),
                    example="web",
                    creatable=True,
                    code=True,
                ),
                Field("status", "choice", True, choices=ORDER_STATUSES, example="paid"),
                Field("ordered_at", "datetime", True, example="2024-05-01 14:30:00"),
                _code(
                    "sku",
                    N_("sku of an existing product (import products first)"),
                    example="SKU-0001",
                ),
                Field("quantity", "int", True, minimum=1, maximum=100_000, example=2),
                Field("unit_price", "money", True, example="79.90"),
            ),
            ("order_number", "sku"),
        ),
        ImportKind(
            "visits",
            N_("Visits"),
            N_("One row per visit; a visit is identified by customer and time."),
            (
                _code(
                    "customer_external_id",
                    N_(
                        "external_id of an existing customer; with “Create missing” a new one is "
                        "added"
                    ),
                    example="C-100001",
                    creatable=True,
                ),
                Field("visited_at", "datetime", True, example="2024-05-01 14:02:00"),
                _code(
                    "platform_code",
                    N_(
                        "code of an existing sales platform; with “Create missing” a new one is "
                        "added"
                    ),
                    required=False,
                    example="web",
                    creatable=True,
                    code=True,
                ),
                Field("channel", "text", False, 32, example="search"),
            ),
            ("customer_external_id", "visited_at"),
        ),
        ImportKind(
            "event_costs",
            N_("Event costs"),
            N_("One row per cost line; identified by event, category and description."),
            (
                _code("event_code", N_("code of an existing event"), example="EVT-2024-001"),
                Field("category", "choice", True, choices=COST_CATEGORIES, example="venue"),
                Field("description", "text", False, 200, example="Hall rental"),
                Field("amount", "money", True, example="1500.00"),
            ),
            ("event_code", "category", "description"),
        ),
        ImportKind(
            "event_revenues",
            N_("Event revenues"),
            N_("One row per revenue line; identified by event, source and description."),
            (
                _code("event_code", N_("code of an existing event"), example="EVT-2024-001"),
                Field("source", "choice", True, choices=REVENUE_SOURCES, example="tickets"),
                Field("description", "text", False, 200, example="Early-bird tickets"),
                Field("amount", "money", True, example="4200.00"),
            ),
            ("event_code", "source", "description"),
        ),
        ImportKind(
            "channel_stats",
            N_("Event channel statistics"),
            N_("One row per event, channel and day."),
            (
                _code("event_code", N_("code of an existing event"), example="EVT-2024-001"),
                Field("channel", "text", True, 32, example="email"),
                Field("day", "date", True, example="2024-04-20"),
                Field("views", "int", True, example=1200),
                Field("clicks", "int", True, example=85),
                Field("conversions", "int", True, example=7),
            ),
            ("event_code", "channel", "day"),
        ),
    )
}


def get_kind(name: str) -> ImportKind:
    """The spec of a kind; ``ValueError`` names the known kinds (input comes from users), in the
    current locale."""
    kind = KINDS.get(str(name or "").strip().lower())
    if kind is None:
        raise ValueError(
            _(
                "unknown import kind %(kind)s; expected one of %(kinds)s",
                kind=repr(str(name)[:40]),
                kinds=", ".join(KINDS),
            )
        )
    return kind

"""Return on investment of an event or campaign, with exact money maths.

Money comes in as integer cents and ratios are computed with :class:`~decimal.Decimal`, so a
ROI of exactly 25 % is 25.00, not 24.999999. Anything undefined — a ratio with a zero
denominator, a break-even with a free ticket — is ``None``, which the UI shows as "n/a".
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from bi_app.i18n import N_, _

HUNDRED = Decimal(100)
PCT_PLACES = Decimal("0.01")
CENT = Decimal(1)


def _pct(numerator: int | Decimal, denominator: int | Decimal) -> Decimal | None:
    if not denominator:
        return None
    return (Decimal(numerator) * HUNDRED / Decimal(denominator)).quantize(PCT_PLACES, ROUND_HALF_UP)


def roi_pct(revenue_cents: int, cost_cents: int) -> Decimal | None:
    """(revenue − cost) / cost × 100, to two places; None without costs."""
    return _pct(revenue_cents - cost_cents, cost_cents)


def net_profit_cents(revenue_cents: int, cost_cents: int) -> int:
    return revenue_cents - cost_cents


def per_head_cents(amount_cents: int, people: int) -> Decimal | None:
    """An amount per person in cents (rounded to whole cents); None for nobody."""
    if people <= 0:
        return None
    return (Decimal(amount_cents) / Decimal(people)).quantize(CENT, ROUND_HALF_UP)


def cost_per_attendee_cents(cost_cents: int, attendees: int) -> Decimal | None:
    """Acquisition cost per attendee."""
    return per_head_cents(cost_cents, attendees)


def revenue_per_attendee_cents(revenue_cents: int, attendees: int) -> Decimal | None:
    return per_head_cents(revenue_cents, attendees)


def rate_pct(part: int, whole: int) -> Decimal | None:
    """``part`` as a percentage of ``whole`` (attendance rate, goal achievement, conversion)."""
    return _pct(part, whole)


def change_pct(value: int | Decimal, previous: int | Decimal) -> Decimal | None:
    """Change from ``previous`` to ``value`` in percent; None when ``previous`` is 0."""
    if not previous:
        return None
    return _pct(Decimal(value) - Decimal(previous), abs(Decimal(previous)))


def break_even_attendees(
    cost_cents: int, ticket_price_cents: int, other_revenue_cents: int = 0
) -> int | None:
    """Paying attendees needed at ``ticket_price_cents`` so revenue covers the cost.

    Revenue that does not depend on tickets (sponsorship, sales) is counted first; 0 when it
    already covers the cost; None for a free ticket that cannot close the gap.
    """
    gap = cost_cents - other_revenue_cents
    if gap <= 0:
        return 0
    if ticket_price_cents <= 0:
        return None
    return int((Decimal(gap) / Decimal(ticket_price_cents)).to_integral_value(ROUND_CEILING))


@dataclass(frozen=True)
class RoiFigures:
    """The ROI card's numbers; ``None`` means "n/a"."""

    cost_cents: int
    revenue_cents: int
    net_profit_cents: int
    roi_pct: Decimal | None
    attendees: int
    cost_per_attendee_cents: Decimal | None
    revenue_per_attendee_cents: Decimal | None
    break_even_attendees: int | None


def roi_figures(
    cost_cents: int,
    revenue_cents: int,
    attendees: int,
    ticket_price_cents: int,
    ticket_revenue_cents: int = 0,
) -> RoiFigures:
    """All ROI figures for one event; break-even counts non-ticket revenue as already earned."""
    return RoiFigures(
        cost_cents=cost_cents,
        revenue_cents=revenue_cents,
        net_profit_cents=net_profit_cents(revenue_cents, cost_cents),
        roi_pct=roi_pct(revenue_cents, cost_cents),
        attendees=attendees,
        cost_per_attendee_cents=cost_per_attendee_cents(cost_cents, attendees),
        revenue_per_attendee_cents=revenue_per_attendee_cents(revenue_cents, attendees),
        break_even_attendees=break_even_attendees(
            cost_cents, ticket_price_cents, revenue_cents - ticket_revenue_cents
        ),
    )


# --- what-if ---------------------------------------------------------------------------------

MAX_COST_CHANGE_PCT = Decimal(1000)
MIN_COST_CHANGE_PCT = Decimal(-100)
MAX_ATTENDEES = 1_000_000
MAX_TICKET_CENTS = 100_000_000  # 1 million in the major unit
# Typed inputs are bounded before any arithmetic: Decimal('1e999999999') is a valid number that
# overflows on the first multiplication (or, as an int, takes seconds and hundreds of MB).
MAX_INPUT_CHARS = 32
MAX_INPUT_MAGNITUDE = 15  # powers of ten, either way; every limit above is far inside


class WhatIfError(ValueError):
    """An input of the what-if calculator is out of range; the message says which and why."""


@dataclass(frozen=True)
class WhatIfBase:
    """The event as it is: what the calculator varies from."""

    cost_cents: int
    ticket_revenue_cents: int
    other_revenue_cents: int
    attendees: int
    ticket_price_cents: int

    @property
    def revenue_cents(self) -> int:
        return self.ticket_revenue_cents + self.other_revenue_cents


def _ticket_yield(base: WhatIfBase) -> Decimal:
    """Ticket revenue per attendee relative to the list price (early-bird discounts lower it,
    paying no-shows raise it); 1 when the event had no paid attendance to learn it from."""
    expected = base.attendees * base.ticket_price_cents
    if expected <= 0 or base.ticket_revenue_cents <= 0:
        return Decimal(1)
    return Decimal(base.ticket_revenue_cents) / Decimal(expected)


def parse_what_if(
    cost_change_pct: object, attendees: object, ticket_price: object
) -> tuple[Decimal, int, int]:
    """Validate the calculator's raw inputs: a cost change in percent (−100 … 1000), a whole
    number of attendees (0 … 1,000,000) and a ticket price in the major unit (≥ 0, 2 decimals).
    Returns ``(cost_change_pct, attendees, ticket_price_cents)``."""

    def number(raw: object, label: str) -> Decimal:  # label: N_()-marked, shown with _()
        if raw is None or isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
            raise WhatIfError(_("%(field)s: enter a number", field=_(label)))
        text = raw.strip() if isinstance(raw, str) else repr(raw)
        if text == "":
            raise WhatIfError(_("%(field)s: enter a number", field=_(label)))
        if len(text) > MAX_INPUT_CHARS:
            raise WhatIfError(_("%(field)s: too long for a number", field=_(label)))
        try:
            value = Decimal(text)
        except ArithmeticError:
            raise WhatIfError(
                _("%(field)s: %(value)s is not a number", field=_(label), value=repr(text[:20]))
            ) from None
        if not value.is_finite():
            raise WhatIfError(_("%(field)s: enter a finite number", field=_(label)))
        if not value:
            return Decimal(0)  # 0E+999999 is zero too, without its exponent
        if not -MAX_INPUT_MAGNITUDE <= value.adjusted() <= MAX_INPUT_MAGNITUDE:
            raise WhatIfError(
                _("%(field)s: %(value)s is out of range", field=_(label), value=repr(text[:20]))
            )
        return value

    change = number(cost_change_pct, N_("Cost change"))
    if not MIN_COST_CHANGE_PCT <= change <= MAX_COST_CHANGE_PCT:
        raise WhatIfError(_("Cost change: between −100 % and +1000 %"))
    people = number(attendees, N_("Attendance"))
    if people != people.to_integral_value() or not 0 <= people <= MAX_ATTENDEES:
        raise WhatIfError(
            _("Attendance: a whole number between 0 and %(max)s", max=format(MAX_ATTENDEES, ","))
        )
    price = number(ticket_price, N_("Ticket price"))
    cents = price * HUNDRED
    if price < 0 or cents != cents.to_integral_value() or cents > MAX_TICKET_CENTS:
        raise WhatIfError(_("Ticket price: 0 or more, at most two decimals"))
    return change, int(people), int(cents)


def what_if(
    base: WhatIfBase, cost_change_pct: Decimal, attendees: int, ticket_price_cents: int
) -> RoiFigures:
    """ROI after changing costs by a percentage, the attendance and the ticket price.

    Ticket revenue scales with attendees × price at the event's observed ticket yield; other
    revenue (sponsors, attributed sales) stays as it was. Unchanged inputs give the event's ROI.
    """
    cost = int(
        (Decimal(base.cost_cents) * (HUNDRED + cost_change_pct) / HUNDRED).quantize(
            CENT, ROUND_HALF_UP
        )
    )
    if attendees == base.attendees and ticket_price_cents == base.ticket_price_cents:
        tickets = base.ticket_revenue_cents
    else:
        tickets = int(
            (Decimal(attendees * ticket_price_cents) * _ticket_yield(base)).quantize(
                CENT, ROUND_HALF_UP
            )
        )
    return roi_figures(
        cost, tickets + base.other_revenue_cents, attendees, ticket_price_cents, tickets
    )


def what_if_against_today(
    base: WhatIfBase, cost_change_pct: Decimal, attendees: int, ticket_price_cents: int
) -> tuple[RoiFigures, RoiFigures]:
    """The scenario's ROI and the event's ROI as it is, side by side for the calculator."""
    current = what_if(base, Decimal(0), base.attendees, base.ticket_price_cents)
    return what_if(base, cost_change_pct, attendees, ticket_price_cents), current

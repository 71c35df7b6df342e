"""Create missing: insert the platforms, categories and customers a file refers to but the
database lacks, inside the import's transaction, before the merge resolves the codes.

Only rows that a code alone describes are created: a platform or category named after its code,
a customer named after its external id (signed up at its first order or visit in the file).
Products and events need more than a code and are never created (see validate.REFERENCES).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, insert

from bi_app.db.models import utcnow
from bi_app.i18n import _, ngettext
from bi_app.importing.validate import REFERENCES

BATCH = 500
# codes per kind named in a message, so three long lists still fit the run record's 4,000
# characters (the audit entry keeps more; see AUDITED_CODES)
SHOWN_CODES = 10
AUDITED_CODES = 1000

Missing = Mapping[str, Mapping[str, dt.datetime | None]]


def _new_row(column: str, code: str, first_seen: dt.datetime | None) -> dict[str, Any]:
    if column == "customer_external_id":
        return {"external_id": code, "name": code, "created_at": first_seen or utcnow()}
    return {"code": code, "name": code}


def insert_missing(conn: Connection, missing: Missing) -> None:
    """Insert the ``missing`` rows; the merge then finds them by their codes."""
    for column, codes in missing.items():
        if not codes:
            continue
        table = REFERENCES[column].key.class_.__table__
        rows = [_new_row(column, code, first) for code, first in codes.items()]
        for start in range(0, len(rows), BATCH):
            conn.execute(insert(table), rows[start : start + BATCH])


def created_codes(missing: Missing) -> dict[str, list[str]]:
    """``{"categories": ["toys", ...], ...}`` in the order of REFERENCES, empty kinds left out."""
    return {
        REFERENCES[column].plural: list(missing[column])
        for column in REFERENCES
        if missing.get(column)
    }


def _created_part(plural: str, count: int, codes: str) -> str:
    """``2 categories: toys, garden`` in the current locale (one message per kind: the noun's
    form and place differ by language)."""
    number = f"{count:,}"
    if plural == "categories":
        return ngettext(
            "%(count)s category: %(codes)s",
            "%(count)s categories: %(codes)s",
            count,
            count=number,
            codes=codes,
        )
    if plural == "platforms":
        return ngettext(
            "%(count)s platform: %(codes)s",
            "%(count)s platforms: %(codes)s",
            count,
            count=number,
            codes=codes,
        )
    if plural == "customers":
        return ngettext(
            "%(count)s customer: %(codes)s",
            "%(count)s customers: %(codes)s",
            count,
            count=number,
            codes=codes,
        )
    # products and events are never created; named plainly should that ever change
    singular = {ref.plural: ref.singular for ref in REFERENCES.values()}
    return f"{number} {singular.get(plural, plural) if count == 1 else plural}: {codes}"


def describe_created(created: Mapping[str, Sequence[str]]) -> str:
    """``2 categories: toys, garden; 1 platform: kiosk`` (long lists shortened), in the current
    locale."""
    parts = []
    for plural, codes in created.items():
        shown = ", ".join(codes[:SHOWN_CODES])
        if len(codes) > SHOWN_CODES:
            shown = _(
                "%(codes)s and %(count)s more",
                codes=shown,
                count=f"{len(codes) - SHOWN_CODES:,}",
            )
        parts.append(_created_part(plural, len(codes), shown))
    return "; ".join(parts)


def audit_detail(created: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """What the import's audit entry records of the rows it created."""
    return {
        plural: {"count": len(codes), "codes": list(codes[:AUDITED_CODES])}
        for plural, codes in created.items()
    }

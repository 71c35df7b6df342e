"""The Sales page's status filter as it arrives from the URL or a callback."""

from __future__ import annotations

import pytest

from bi_app.filters import parse_statuses

# --- the status parameter ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected", "notices"),
    [
        (None, None, 0),
        ("", None, 0),
        ("refunded", ("refunded",), 0),
        ("Shipped, PAID", ("paid", "shipped"), 0),  # lifecycle order, case-insensitive
        (["cancelled", "bogus"], ("cancelled",), 1),
        ("<script>", None, 1),
        ("pending,paid,shipped,delivered,cancelled,refunded", None, 0),
    ],
)
def test_parse_statuses(raw, expected, notices):
    statuses, messages = parse_statuses(raw)
    assert statuses == expected
    assert len(messages) == notices

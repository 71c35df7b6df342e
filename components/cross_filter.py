"""Cross-filtering on the Sales page: reading a clicked bar, toggling the selection, and the
removable chips that show what the page is filtered by.

Clickable figures carry the code of what a bar stands for in ``customdata`` (platform, status or
category code); :func:`clicked_code` reads it back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dash import html

from bi_app.i18n import N_, _
from components.figures import status_label
from components.ids import Sales

CHIP_LABELS = {"platform": N_("Platform"), "category": N_("Category"), "status": N_("Status")}
# per dimension, whole sentences (word order differs between languages): the chip's tooltip and
# what a screen reader says for it (``%(values)s``: the selected names)
_CHIP_TITLES = {
    "platform": N_("Clear the platform filter"),
    "category": N_("Clear the category filter"),
    "status": N_("Clear the status filter"),
}
_CHIP_ARIA = {
    "platform": N_("Clear platform filter %(values)s"),
    "category": N_("Clear category filter %(values)s"),
    "status": N_("Clear status filter %(values)s"),
}


def clicked_code(click_data: Mapping[str, Any] | None) -> str | None:
    """The code a clicked bar stands for (its ``customdata``), or None."""
    points = (click_data or {}).get("points") or []
    if not points:
        return None
    code = points[0].get("customdata")
    if isinstance(code, list):
        code = code[0] if code else None
    return str(code) if code not in (None, "") else None


def toggle_selection(current: Sequence[str] | None, code: str) -> list[str]:
    """A click selects one value; clicking the only selected value again clears the selection."""
    return [] if list(current or []) == [code] else [code]


def filter_chips(
    selected: Mapping[str, Sequence[str] | None], names: Mapping[str, Mapping[str, str]]
) -> list:
    """One removable chip per active cross-filter (``dimension ->
    codes``), e.g. "Platform: Web ✕"."""
    chips = []
    for dimension, label in CHIP_LABELS.items():
        codes = list(selected.get(dimension) or [])
        if not codes:
            continue
        lookup = names.get(dimension, {})
        fallback = status_label if dimension == "status" else str.capitalize
        shown = ", ".join(lookup[c] if c in lookup else fallback(c) for c in codes)
        chips.append(
            html.Button(
                [
                    html.Span(
                        _("%(dimension)s: ", dimension=_(label)), className="text-body-secondary"
                    ),
                    html.Span(shown, className="fw-semibold"),
                    html.Span("✕", className="ms-2", **{"aria-hidden": "true"}),
                ],
                id=Sales.chip_clear(dimension),
                n_clicks=0,
                type="button",
                className="app-chip btn btn-sm btn-light rounded-pill border me-2 mb-1",
                title=_(_CHIP_TITLES[dimension]),
                **{"aria-label": _(_CHIP_ARIA[dimension], values=shown)},
            )
        )
    if not chips:
        return [
            html.Span(
                _("Click a platform, status or category in a chart to filter the whole page."),
                className="text-body-secondary small",
            )
        ]
    return [html.Span(_("Filtered by"), className="text-body-secondary small me-2"), *chips]

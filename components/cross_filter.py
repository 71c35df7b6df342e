"""Cross-filtering on the Sales page: reading a clicked bar, toggling the selection, and the
removable chips that show what the page is filtered by.

Clickable figures carry the code of what a bar stands for in ``customdata`` (platform, status or
category code); :func:`clicked_code` reads it back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dash import html

from components.ids import Sales

CHIP_LABELS = {"platform": "Platform", "category": "Category", "status": "Status"}


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
        shown = ", ".join(lookup.get(c, c.capitalize()) for c in codes)
        chips.append(
            html.Button(
                [
                    html.Span(f"{label}: ", className="text-body-secondary"),
                    html.Span(shown, className="fw-semibold"),
                    html.Span("✕", className="ms-2", **{"aria-hidden": "true"}),
                ],
                id=Sales.chip_clear(dimension),
                n_clicks=0,
                type="button",
                className="app-chip btn btn-sm btn-light rounded-pill border me-2 mb-1",
                title=f"Clear the {label.lower()} filter",
                **{"aria-label": f"Clear {label.lower()} filter {shown}"},
            )
        )
    if not chips:
        return [
            html.Span(
                "Click a platform, status or category in a chart to filter the whole page.",
                className="text-body-secondary small",
            )
        ]
    return [html.Span("Filtered by", className="text-body-secondary small me-2"), *chips]

"""The default rule pack's names, marked for translation.

Migration 0023 installs the pack (its rows are data from then on, editable like any rule); the
same English names are listed here so a built-in rule whose name was not changed is shown in the
reader's language. A renamed rule is shown as its admin wrote it.
"""

from __future__ import annotations

from bi_app.i18n import N_, _

BUILTIN_NAMES = (
    N_("Event attendance below 70 %"),
    N_("Error rate above 5 %"),
    N_("p95 latency above 1 s"),
    N_("Database unreachable"),
    N_("A job is late"),
    N_("Disk free below 10 %"),
    N_("Revenue far below its seasonal baseline"),
    N_("High-risk transaction"),
    N_("Model training failed"),
    N_("Capacity below 20 %"),
    N_("Capacity below 10 %"),
)
_KNOWN = frozenset(BUILTIN_NAMES)


def display_name(name: str, builtin: bool = True) -> str:
    """A rule's (or its alert's) name in the current language when it is a default pack name."""
    return _(name) if builtin and name in _KNOWN else name

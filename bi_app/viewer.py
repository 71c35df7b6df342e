"""Who is looking, in the terms a page layout needs: their role and how to show numbers.

Pages resolve this once per request and hand it to their pure builders in ``components/``, so no
builder reads the request, the session or the settings itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from bi_app.auth.pages import role_allows
from bi_app.roles import Action


@dataclass(frozen=True)
class Viewer:
    role: str | None
    currency: str
    timezone: str

    @property
    def can_download(self) -> bool:
        """Grid exports (only a convenience here: the download callback checks the role again)."""
        return self.may(Action.DOWNLOAD)

    def may(self, allowed: tuple[str, ...]) -> bool:
        """The same rule the server enforces on pages and callbacks (admin may do everything)."""
        return role_allows(self.role, allowed)


def current_viewer() -> Viewer:
    """The signed-in user of the current request, with the app's currency and time zone."""
    from bi_app import current_settings
    from bi_app.auth import current_role

    settings = current_settings()
    return Viewer(current_role(), settings.currency, settings.timezone)

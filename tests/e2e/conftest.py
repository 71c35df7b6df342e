"""Helpers shared by the browser tests: wait for what a person would see, wait for a download."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from selenium.common.exceptions import (
    ElementClickInterceptedException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.support.ui import WebDriverWait

T = TypeVar("T")

POLL_SECONDS = 0.1


def wait_until(dash_duo, what: str, check: Callable[[], T], timeout: float = 20) -> T:
    """Poll ``check`` until it returns something truthy and return that value.

    Dash replaces elements while it re-renders, so a reference found a moment ago may be stale
    (and an element not drawn yet is missing): both count as "not yet" and are polled again.
    Anything else ``check`` raises is a real error and fails the test at once.
    """
    waiter = WebDriverWait(
        dash_duo.driver,
        timeout,
        poll_frequency=POLL_SECONDS,
        ignored_exceptions=[StaleElementReferenceException],
    )
    try:
        return waiter.until(lambda _driver: check())
    except TimeoutException:
        raise AssertionError(f"timed out waiting for {what}") from None


def select_dropdown(dash_duo, selector: str, value: str, timeout: float = 20) -> None:
    """``dash_duo.select_dcc_dropdown`` after scrolling the dropdown to the middle of the window,
    again while something else takes the click: a grid or chart above it still growing moves
    it, and on a busy machine the click lands on whatever is drawn there meanwhile."""

    def attempt() -> bool:
        element = dash_duo.find_element(selector)
        dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
        try:
            dash_duo.select_dcc_dropdown(element, value=value)
        except ElementClickInterceptedException:
            return False
        return True

    wait_until(dash_duo, f"{selector} to take the click", attempt, timeout=timeout)


def wait_for_download(dash_duo, pattern: str, timeout: float = 20) -> Path:
    """The first non-empty file in dash_duo's download folder matching the glob ``pattern``.

    Chromium writes a download to ``*.crdownload`` first and renames it when complete; the file
    is returned only once no partial download is left.
    """
    folder = Path(dash_duo.download_path)

    def arrived() -> Path | None:
        done = [p for p in folder.glob(pattern) if p.stat().st_size > 0]
        return done[0] if done and not list(folder.glob("*.crdownload")) else None

    try:
        return wait_until(dash_duo, f"a {pattern} download", arrived, timeout=timeout)
    except AssertionError as exc:
        found = list(folder.iterdir())
        raise AssertionError(f"no {pattern} file arrived in {folder}: {found}") from exc

"""Headless Debian Chromium for the benchmarks: log in through the real form, load pages, and see
every request the page made through Chrome's DevTools network events (the performance log).

The network log gives what the renderer really sent (URL, method, body, headers including the
cookie) and what came back (status, headers, bytes on the wire); the page's own Resource Timing
entries give times relative to the start of the navigation.
"""

from __future__ import annotations

import base64
import json
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

CALLBACK_PATH = "/_dash-update-component"
QUIET_S = 0.5  # a page is done when nothing has been in flight for this long
# headers worth replaying (the rest are the browser's or the connection's own)
REPLAY_HEADERS = (
    "accept",
    "accept-encoding",
    "accept-language",
    "content-type",
    "cookie",
    "origin",
    "referer",
    "sec-fetch-dest",
    "sec-fetch-mode",
    "sec-fetch-site",
    "user-agent",
    "x-csrftoken",
)
# Resource Timing keeps 250 entries by default: enough for a page, but not worth the doubt
BUFFER_SCRIPT = "performance.setResourceTimingBufferSize(10000);"


@dataclass
class Request:
    """One network request of the page, as the DevTools protocol reported it."""

    request_id: str
    url: str
    method: str
    post_data: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    from_cache: bool = False
    wire_bytes: int = 0  # encodedDataLength at loadingFinished: headers + (compressed) body
    done: bool = False
    failed: str | None = None
    loader: str | None = None  # the document (DevTools loaderId) that sent it

    @property
    def is_callback(self) -> bool:
        return CALLBACK_PATH in self.url

    @property
    def error(self) -> bool:
        """4xx/5xx, or no answer at all. (Chrome reports a 204 answer to fetch — Dash's
        PreventUpdate — as loadingFailed ERR_ABORTED after the response: not an error.)"""
        if self.status is not None:
            return self.status >= 400
        return self.failed is not None


def chromium() -> webdriver.Chrome:
    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--disable-extensions",
        "--no-first-run",
        "--window-size=1440,1100",
        f"--user-data-dir={tempfile.mkdtemp(prefix='chrome-bench-')}",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    options.add_experimental_option(
        "perfLoggingPrefs", {"enableNetwork": True, "enablePage": False}
    )
    driver = webdriver.Chrome(options=options)
    driver.set_page_load_timeout(120)
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": BUFFER_SCRIPT})
    return driver


class NetworkLog:
    """Every request since the last :meth:`clear`, from the performance log."""

    def __init__(self, driver: webdriver.Chrome) -> None:
        self.driver = driver
        self.requests: dict[str, Request] = {}
        self.last_activity = time.monotonic()
        self.document: str | None = None  # loaderId of the latest document navigated to

    def clear(self) -> None:
        self.drain()
        self.requests = {}

    def drain(self) -> None:
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            self._event(message.get("method", ""), message.get("params", {}))

    def _event(self, method: str, p: dict[str, Any]) -> None:
        rid = p.get("requestId")
        if rid is None or not method.startswith("Network."):
            return
        self.last_activity = time.monotonic()
        if method == "Network.requestWillBeSent":
            req = p["request"]
            r = self.requests.get(rid)
            if r is None or "redirectResponse" in p:
                r = self.requests[rid] = Request(rid, req["url"], req["method"])
            r.url, r.method, r.loader = req["url"], req["method"], p.get("loaderId")
            if p.get("type") == "Document":
                self.document = r.loader
            r.post_data = req.get("postData") or _entries(req.get("postDataEntries"))
            if r.post_data is None and req.get("hasPostData"):
                r.post_data = self._fetch_post_data(rid)
            r.headers = {k.lower(): v for k, v in req.get("headers", {}).items()} | r.headers
        elif method == "Network.requestWillBeSentExtraInfo":  # the headers really sent
            r = self.requests.setdefault(rid, Request(rid, "", ""))
            r.headers |= {k.lower(): v for k, v in p.get("headers", {}).items()}
        elif method == "Network.responseReceived" and rid in self.requests:
            r = self.requests[rid]
            resp = p["response"]
            r.status = resp.get("status")
            r.response_headers = {k.lower(): v for k, v in resp.get("headers", {}).items()}
            r.from_cache = bool(resp.get("fromDiskCache") or resp.get("fromMemoryCache"))
        elif method == "Network.loadingFinished" and rid in self.requests:
            r = self.requests[rid]
            r.done, r.wire_bytes = True, int(p.get("encodedDataLength", 0))
        elif method == "Network.loadingFailed" and rid in self.requests:
            r = self.requests[rid]
            r.done, r.failed = True, p.get("errorText", "failed")

    def _fetch_post_data(self, rid: str) -> str | None:
        try:
            return self.driver.execute_cdp_cmd("Network.getRequestPostData", {"requestId": rid})[
                "postData"
            ]
        except Exception:  # noqa: BLE001 - gone already: the body stays unknown
            return None

    def current(self) -> list[Request]:
        """The requests of the current document. One sent by a page navigated away from (its
        callbacks still running when the next page was asked for) may never be reported as
        finished or failed: it is neither waited for nor counted."""
        return [
            r
            for r in self.requests.values()
            if r.url and (self.document is None or r.loader == self.document)
        ]

    def in_flight(self) -> list[Request]:
        return [r for r in self.current() if not r.done]

    def callbacks(self) -> list[Request]:
        return [r for r in self.current() if r.is_callback]


def _entries(entries: list[dict] | None) -> str | None:
    if not entries:
        return None
    raw = b"".join(base64.b64decode(e.get("bytes", "")) for e in entries)
    return raw.decode("utf-8", "replace")


def login(driver: webdriver.Chrome, base: str, username: str, password: str) -> None:
    """Sign in through the login form, like a person."""
    wait = WebDriverWait(driver, 60)
    driver.get(f"{base}/login")
    wait.until(EC.presence_of_element_located((By.ID, "login-username"))).send_keys(username)
    driver.find_element(By.ID, "login-password").send_keys(password)
    driver.find_element(By.ID, "login-submit").click()
    wait.until(EC.presence_of_element_located((By.ID, "app-sidebar")))


def wait_quiet(driver: webdriver.Chrome, log: NetworkLog, timeout: float = 120.0) -> bool:
    """Until the document is loaded and no request has been in flight for ``QUIET_S``; False when
    ``timeout`` passed first (e.g. a page that never stops polling)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.05)
        log.drain()
        if log.in_flight() or time.monotonic() - log.last_activity < QUIET_S:
            continue
        if driver.execute_script("return document.readyState") == "complete":
            return True
    return False


def resource_timing(driver: webdriver.Chrome) -> dict[str, Any]:
    """The navigation and resource entries of the current page (times in ms from its start)."""
    return driver.execute_script(
        """
        const pick = e => ({name: e.name, start: e.startTime, end: e.responseEnd,
            transfer: e.transferSize, encoded: e.encodedBodySize, decoded: e.decodedBodySize,
            status: e.responseStatus || null});
        return {navigation: performance.getEntriesByType('navigation').map(pick),
                resources: performance.getEntriesByType('resource').map(pick)};
        """
    )


def severe_console_messages(driver: webdriver.Chrome) -> list[str]:
    try:
        return [e["message"][:300] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    except Exception:  # noqa: BLE001 - a driver without the browser log
        return []

"""Plotly figures as vector SVG for reports, through kaleido and the system's Chromium.

Starting Chromium costs seconds, rendering one figure in a running one ~0.2 s: so one kaleido
browser per process is started on the first figure and reused. It lives in a daemon thread
with its own event loop; figures are submitted to it with a timeout, so a stuck browser fails a
chart, never the report. kaleido's own ``start_sync_server`` is not used: when Chromium cannot
start it leaves the server marked running and the next call waits forever, and it pairs
answers to callers through a shared queue, which concurrent report jobs would mix up.

A failed start is remembered for :data:`RETRY_AFTER` seconds, so a report without a browser
costs one attempt, not one per chart; the renderer then shows a short notice instead.

The browser is Chromium's headless shell (Debian's ``chromium-headless-shell``) when it is
installed: it draws the same SVG without the full browser's UI processes, about 180 MB less
(measured: 10 charts, PSS of the browser's processes ~320 MB against ~500 MB for ``chromium``).
Without it kaleido finds the full ``chromium``.

A report draws its charts inside :func:`in_use`; when the last report of the process is done
with the browser it is closed, so a web worker or the scheduler does not keep ~300 MB of
Chromium after a report, and the PDF layout that follows (the Python process's own peak) never
adds to a running browser. Starting the headless shell again costs about a second.

The browser's page grows by ~8 MB with each chart until V8 collects (measured: 282 MB after 5
charts, 323 after 10, 380 after 25): after :data:`CHARTS_PER_BROWSER` charts, when none is
being drawn, the next chart starts a fresh browser, so a report with many charts stays small.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import copy
import logging
import os
import shutil
import threading
import time
from collections.abc import Iterator
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

log = logging.getLogger(__name__)
# kaleido and the browser driver it uses log every start, tab and clean-up at INFO
for _noisy in ("kaleido", "choreographer", "logistro"):
    logging.getLogger(_noisy).setLevel(logging.WARNING)

START_TIMEOUT = 60.0  # seconds for Chromium to start
FIGURE_TIMEOUT = 30.0  # seconds for one figure
RETRY_AFTER = 60.0  # seconds before trying to start a browser again after a failure
CHARTS_PER_BROWSER = 6  # then a fresh browser (its memory grows with every chart)
FONT_FAMILY = '"Noto Sans CJK KR", "Noto Sans", sans-serif'
HEADLESS_SHELL = "chromium-headless-shell"


class ChartRenderError(RuntimeError):
    """A figure could not be rendered (no browser, a timeout, a bad figure)."""


class _Server:
    """One kaleido browser in a background event loop, started on first use, per process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._kaleido: Any = None
        self._pid: int | None = None
        self._failed_at: float | None = None
        self._failure = ""
        self._users = 0  # reports inside in_use()
        self._drawing = 0  # charts being drawn now
        self._drawn = 0  # charts this browser has drawn
        self.startup_seconds: float | None = None

    def acquire(self) -> None:
        with self._lock:
            self._users += 1

    def release(self) -> None:
        """One report is done; the last one out closes the browser. The decision and the
        hand-over happen under the lock that starts browsers, so a report arriving meanwhile
        either keeps this browser (it counted itself first) or starts a new one."""
        with self._lock:
            self._users = max(0, self._users - 1)
            if self._users:
                return
            taken = self._take()
        self._close(*taken)

    def _ensure(self) -> tuple[asyncio.AbstractEventLoop, Any]:
        """The running browser, or a new one; counts the chart about to be drawn (the caller
        must call :meth:`_done`)."""
        with self._lock:
            alive = self._thread is not None and self._thread.is_alive()
            if self._kaleido is not None and self._pid == os.getpid() and alive:
                if self._drawn < CHARTS_PER_BROWSER or self._drawing:
                    self._drawing += 1
                    return self._loop, self._kaleido  # type: ignore[return-value]
                self._close(*self._take())  # worn: nobody is drawing, replace it
            loop, browser = self._start()
            self._drawing += 1
            return loop, browser

    def _done(self) -> None:
        with self._lock:
            self._drawing = max(0, self._drawing - 1)
            self._drawn += 1

    def _start(self) -> tuple[asyncio.AbstractEventLoop, Any]:
        """Start a browser (under the lock)."""
        if self._failed_at is not None and time.monotonic() - self._failed_at < RETRY_AFTER:
            raise ChartRenderError(self._failure)
        # a forked worker inherits no threads, and a thread can be stopped under us (a test
        # server's teardown): start a browser of this process's own
        self._kaleido = self._loop = None
        started = time.perf_counter()
        loop: asyncio.AbstractEventLoop | None = None
        thread: threading.Thread | None = None
        try:
            import kaleido

            loop = asyncio.new_event_loop()
            thread = threading.Thread(
                target=_run_loop, args=(loop,), name="report-charts", daemon=True
            )
            thread.start()
            # mathjax=False: kaleido would otherwise load MathJax from a CDN
            shell = shutil.which(HEADLESS_SHELL)
            options = {"path": shell} if shell else {}
            browser = kaleido.Kaleido(n=1, timeout=FIGURE_TIMEOUT, mathjax=False, **options)

            async def open_browser() -> None:
                await browser.open()

            future = asyncio.run_coroutine_threadsafe(open_browser(), loop)
            future.result(START_TIMEOUT)
        except BaseException as error:  # noqa: BLE001 - any failure means "no charts"
            self._failed_at = time.monotonic()
            self._failure = f"chart renderer unavailable: {type(error).__name__}: {error}"
            log.warning("report charts: %s", self._failure)
            if loop is not None:
                _close_loop(loop, thread)
            raise ChartRenderError(self._failure) from None
        self._loop, self._thread, self._kaleido = loop, thread, browser
        self._pid = os.getpid()
        self._failed_at = None
        self._drawn = 0
        self.startup_seconds = time.perf_counter() - started
        log.info("report charts: browser started in %.1f s", self.startup_seconds)
        return loop, browser

    def svg(self, figure: Any, width: int, height: int) -> str:
        loop, browser = self._ensure()
        try:
            opts = {"format": "svg", "width": width, "height": height}
            future = asyncio.run_coroutine_threadsafe(browser.calc_fig(figure, opts=opts), loop)
            try:
                data = future.result(FIGURE_TIMEOUT + 5)
            except FutureTimeout:
                future.cancel()
                raise ChartRenderError("chart rendering timed out") from None
            except Exception as error:
                raise ChartRenderError(f"{type(error).__name__}: {error}") from error
        finally:
            self._done()
        return data.decode("utf-8") if isinstance(data, bytes) else str(data)

    def _take(self) -> tuple[Any, Any, Any]:
        """Detach the browser (under the lock): the next chart starts a new one."""
        taken = (self._loop, self._thread, self._kaleido)
        self._loop = self._thread = self._kaleido = None
        self._failed_at = None
        return taken

    def stop(self) -> None:
        with self._lock:
            taken = self._take()
        self._close(*taken)

    def _close(self, loop: Any, thread: Any, browser: Any) -> None:
        if loop is None or browser is None or self._pid != os.getpid():
            return
        if thread is None or not thread.is_alive():  # stopped from outside: nothing to close
            return
        try:
            asyncio.run_coroutine_threadsafe(browser.close(), loop).result(10)
        except Exception:  # closing at exit: nothing left to tell
            log.debug("report charts: browser did not close cleanly", exc_info=True)
        _close_loop(loop, thread)


def _run_loop(loop: asyncio.AbstractEventLoop) -> None:
    """The chart thread: serve the loop until it is stopped. A thread stopped from outside (a
    test server's teardown raises SystemExit in every thread it saw start) just ends; the next
    chart starts a new browser (:meth:`_Server._ensure` checks the thread is alive)."""
    try:
        loop.run_forever()
    except SystemExit:
        log.info("report charts: the chart thread was stopped from outside")


def _close_loop(loop: asyncio.AbstractEventLoop, thread: threading.Thread | None) -> None:
    """Stop the loop, wait for its thread, and close it (its sockets with it)."""
    loop.call_soon_threadsafe(loop.stop)
    if thread is not None:
        thread.join(10)
    if not loop.is_running():
        loop.close()


_server = _Server()
atexit.register(_server.stop)


def figure_dict(figure: Any, font_family: str = FONT_FAMILY) -> dict[str, Any]:
    """The figure as a plain dict, with a font that covers Hangul and a white background."""
    if hasattr(figure, "to_plotly_json"):
        figure = figure.to_plotly_json()
    data = copy.deepcopy(dict(figure))
    layout = dict(data.get("layout") or {})
    font = dict(layout.get("font") or {})
    font["family"] = font_family
    layout["font"] = font
    layout.setdefault("paper_bgcolor", "white")
    layout.setdefault("plot_bgcolor", "white")
    data["layout"] = layout
    return data


def figure_to_svg(figure: Any, width: int = 900, height: int = 420) -> str:
    """An SVG document of a Plotly figure (or its dict). Raises :class:`ChartRenderError`."""
    return _server.svg(figure_dict(figure), width, height)


def startup_seconds() -> float | None:
    """How long this process's browser took to start (None before the first chart)."""
    return _server.startup_seconds


def stop() -> None:
    """Close this process's browser (it starts again on the next chart)."""
    _server.stop()


@contextlib.contextmanager
def in_use() -> Iterator[None]:
    """Draw a report's charts inside this block: the browser (started by the first chart) is
    closed when the last block of the process ends."""
    _server.acquire()
    try:
        yield
    finally:
        _server.release()


__all__ = [
    "ChartRenderError",
    "figure_dict",
    "figure_to_svg",
    "in_use",
    "startup_seconds",
    "stop",
]

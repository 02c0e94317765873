"""Helpers for tests that launch the app in-process and drive it with gradio_client or headless Chromium."""

from __future__ import annotations

import contextlib
import os
import socket

import pytest

CHROMIUM = "/usr/bin/chromium"
# The closed network refuses Chromium's background connections; these flags keep it quiet and quick.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = os.path.join(os.path.dirname(__file__), "artifacts")
# The README shows these: the browser walk rewrites them on every run, so they show the app as it is.
SCREENSHOTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "screenshots")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_app(settings, **kwargs):
    """Build and launch the whole app on a free loopback port; returns (demo, url). Close with demo.close()."""
    from app import build_app

    demo = build_app(settings, auth=kwargs.get("auth"), admins=kwargs.get("admins"))
    port = free_port()
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, auth=kwargs.get("auth"),
                quiet=True)
    return demo, f"http://127.0.0.1:{port}/"


@contextlib.contextmanager
def chromium_page(viewport=(1280, 1600)):
    """A Playwright page in Debian's headless Chromium; skips the test when Chromium is not installed."""
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (make test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
        finally:
            browser.close()

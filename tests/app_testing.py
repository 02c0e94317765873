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


def screenshots_folder(tmp_path_factory) -> str:
    """Where the browser walks write their screenshots: $DPPGRPO_SCREENSHOTS when set (to refresh the README's
    pictures: DPPGRPO_SCREENSHOTS=docs/screenshots make test ARGS="-m browser"), else a temporary folder. A test
    never rewrites a tracked file on its own."""
    folder = os.environ.get("DPPGRPO_SCREENSHOTS") or str(tmp_path_factory.mktemp("screenshots"))
    os.makedirs(folder, exist_ok=True)
    return folder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_app(settings, port: int | None = None, **kwargs):
    """Build and launch the whole app on a loopback port (a free one unless given); returns (demo, url). Close
    with demo.close()."""
    from app import build_app
    from pages.layout import launch_options

    demo = build_app(settings, auth=kwargs.get("auth"), admins=kwargs.get("admins"))
    port = port or free_port()
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, auth=kwargs.get("auth"),
                quiet=True, **launch_options())
    return demo, f"http://127.0.0.1:{port}/"


@contextlib.contextmanager
def chromium():
    """Debian's headless Chromium under Playwright, for as long as the block lasts; skips the test when Chromium is
    not installed. A module's walks share one (`walk_helpers.browser`): starting it costs seconds on a busy CPU."""
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (make test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextlib.contextmanager
def chromium_page(viewport=(1280, 1600), browser=None):
    """A Playwright page in a fresh browser context (its own storage, as a new visitor's): of `browser` when given
    (a module's shared Chromium), else of a Chromium started for this page alone."""
    if browser is None:
        with chromium() as own, chromium_page(viewport, own) as page:
            yield page
        return
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    try:
        yield context.new_page()
    finally:
        context.close()

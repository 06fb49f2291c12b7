"""Browser fixtures: one Streamlit server and one Chromium per xdist worker.

Each worker's server has its own free loopback port and its own data folder, so the
tests are xdist-safe; they are also put in one xdist group (``--dist loadgroup``), so a
normal run starts a single server. When Chromium cannot be launched the tests fail under
CI (the ``CI`` environment variable) and are skipped elsewhere.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

if str(Path(__file__).parent) not in sys.path:  # browsertools, for this conftest and the tests
    sys.path.insert(0, str(Path(__file__).parent))

from browsertools import CHROMIUM, CHROMIUM_ARGS, COUNT_FRAMES_JS, FAILURES, TIMEOUT_MS, AppServer  # noqa: E402


def _unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)


@pytest.fixture(scope="session")
def app_url(tmp_path_factory):
    server = AppServer(tmp_path_factory.mktemp("app-data"),
                       tmp_path_factory.mktemp("app-log") / "streamlit.log")
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="session")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as e:
        _unavailable(f"playwright is not installed: {e}")
    if not os.access(CHROMIUM, os.X_OK):
        _unavailable(f"no Chromium at {CHROMIUM} (sudo apt-get install chromium)")
    pw = sync_playwright().start()
    try:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    except Exception as e:
        pw.stop()
        _unavailable(f"Chromium at {CHROMIUM} could not be launched: {e}")
    yield b
    b.close()
    pw.stop()


@pytest.fixture
def page(browser, request):
    """A fresh browser context (no shared session state) with generous timeouts.

    A failing test leaves a screenshot in test-artifacts/failures/.
    """
    context = browser.new_context(viewport={"width": 1400, "height": 900}, device_scale_factor=1)
    context.set_default_timeout(TIMEOUT_MS)
    context.add_init_script(COUNT_FRAMES_JS)
    pg = context.new_page()
    yield pg
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        FAILURES.mkdir(parents=True, exist_ok=True)
        name = request.node.name.replace("/", "_").replace("[", "-").replace("]", "")
        try:
            pg.screenshot(path=str(FAILURES / f"{name}.png"), full_page=True)
        except Exception:
            pass
    context.close()

"""Driving the running app in Chromium: start the server, open a page, wait until it is idle.

Idle is read from the attributes Streamlit's frontend puts on its root element,
``<div data-testid="stApp" data-test-script-state=... data-test-connection-state=...>``:
the script state is ``initial`` before the first run, ``running`` / ``rerunRequested`` /
``stopRequested`` while a run is under way and ``notRunning`` (or ``compilationError``)
after it; the connection state is ``CONNECTED`` once the websocket is up. The status
widget's running icons (``stStatusWidgetRunningIcon``, ``stStatusWidgetRunningManIcon``)
must be gone too, and so must every ``stSkeleton``: the placeholder Streamlit shows while
a widget's lazily loaded code arrives (a page can be idle with its buttons not yet drawn).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import expect

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
FAILURES = ROOT / "test-artifacts" / "failures"

CHROMIUM = os.environ.get("OPTLAB_CHROMIUM", "/usr/bin/chromium")
# without the networking flags Chromium keeps trying to reach Google's hosts and stalls
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
TIMEOUT_MS = 60_000  # per page: generous, a cold cache trains models on a 2-core machine
STABLE_MS = 300  # how long the idle state must hold

IDLE_JS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  const idle = !!app && app.dataset.testConnectionState === 'CONNECTED'
    && ['notRunning', 'compilationError'].includes(app.dataset.testScriptState)
    // running icons of the status widget; skeletons stand in for widgets whose code is loading
    && !document.querySelector('[data-testid="stStatusWidgetRunningIcon"],'
      + ' [data-testid="stStatusWidgetRunningManIcon"], [data-testid="stSkeleton"]');
  // idle for a while in a row, with no frame from the server meanwhile: a rerun (st.rerun, a
  // page switch) passes through notRunning, and a fast one may never show "running" at all
  const frames = window.__optlabFrames ?? 0;
  if (!idle || frames !== window.__optlabIdleFrames) {
    window.__optlabIdleFrames = frames;
    window.__optlabIdleSince = undefined;
    return false;
  }
  window.__optlabIdleSince ??= performance.now();
  return performance.now() - window.__optlabIdleSince >= STABLE_MS;
}""".replace("STABLE_MS", str(STABLE_MS))

# counts changes of the script state from now on (any change means a rerun has begun), and
# notes the frame count, so that a frame from now on shows the server answered
WATCH_RUNS_JS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  window.__optlabRuns = 0;
  window.__optlabFramesBefore = window.__optlabFrames ?? 0;
  if (window.__optlabObserver) window.__optlabObserver.disconnect();
  window.__optlabObserver = new MutationObserver(records => { window.__optlabRuns += records.length; });
  window.__optlabObserver.observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
}"""

# counts the frames the app's websocket receives (installed before any page script runs): a
# rerun served from caches can finish within one frontend render, so the script state
# attribute may never show "running" and only the frames tell that the server answered
COUNT_FRAMES_JS = """(() => {
  const Native = window.WebSocket;
  window.__optlabFrames = 0;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', () => { window.__optlabFrames += 1; });
    }
  };
})();"""

CHARTS = ".vega-embed canvas, .vega-embed svg"
EXCEPTIONS = '[data-testid="stException"]'


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(url: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy
    try:
        with opener.open(f"{url}/_stcore/health", timeout=2) as r:
            return r.status == 200 and r.read().strip() == b"ok"
    except OSError:
        return False


class AppServer:
    """``streamlit run streamlit_app.py`` on a free loopback port, in its own process group."""

    def __init__(self, data_dir: Path, log_path: Path):
        self.data_dir, self.log_path = data_dir, log_path
        self.proc: subprocess.Popen | None = None
        self.url = ""

    def start(self, attempts: int = 3, timeout: float = 90) -> str:
        for _ in range(attempts):  # a port taken between free_port() and the bind: try another
            port = free_port()
            self.url = f"http://127.0.0.1:{port}"
            # the tests delete runs, as the operator of a server may (OPTLAB_ALLOW_DELETE=1)
            env = {**os.environ, "OPTLAB_DATA_DIR": str(self.data_dir), "PYTHONUNBUFFERED": "1",
                   "OPTLAB_ALLOW_DELETE": "1"}
            env.pop("OPTLAB_STORE", None)
            env.pop("OPTLAB_JOBS", None)  # the server trains in its default pool of worker processes
            cmd = [sys.executable, "-m", "streamlit", "run", "streamlit_app.py",
                   "--server.headless", "true", "--server.port", str(port),
                   "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
                   "--server.fileWatcherType", "none", "--server.runOnSave", "false"]
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, start_new_session=True)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.proc.poll() is None:
                if _healthy(self.url):
                    return self.url
                time.sleep(0.25)
            self.stop()
        raise RuntimeError(f"streamlit did not answer on /_stcore/health; log:\n{self.log_tail()}")

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """End the server and anything it started (e.g. worker processes)."""
        if self.proc is None:
            return
        for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        self.proc = None


def wait_idle(page, timeout: float = TIMEOUT_MS) -> None:
    """Until the app is connected, no script run is under way and the status widget is quiet."""
    page.wait_for_function(IDLE_JS, timeout=timeout, polling=100)


def run_and_wait(page, action, timeout: float = TIMEOUT_MS) -> None:
    """Do ``action`` (a widget change, a button press), wait for the rerun it starts to finish."""
    wait_idle(page, timeout)
    page.evaluate(WATCH_RUNS_JS)
    action()
    # a rerun began (the script state changed) or the server answered the action
    began = "() => window.__optlabRuns > 0 || window.__optlabFrames > window.__optlabFramesBefore"
    page.wait_for_function(began, timeout=timeout, polling=50)
    wait_idle(page, timeout)


def open_page(page, base_url: str, url_path: str) -> None:
    """Open ``/<url_path>`` and wait until its script has drawn its title and gone idle."""
    page.goto(f"{base_url}/{url_path}", wait_until="domcontentloaded")
    page.locator('[data-testid="stMain"] h1').first.wait_for(state="attached", timeout=TIMEOUT_MS)
    wait_idle(page)


def screenshot(page, path: Path) -> Path:
    """The whole page, however long: Streamlit scrolls inside its main container, not the
    document, so the viewport is stretched to the content's height for the picture."""
    path.parent.mkdir(parents=True, exist_ok=True)
    page.mouse.move(0, 0)  # no hover tooltip over the picture
    page.locator('[role="tooltip"]').first.wait_for(state="detached", timeout=TIMEOUT_MS)
    size = page.viewport_size
    height = page.evaluate("""() => Math.max(document.documentElement.scrollHeight,
        ...[...document.querySelectorAll('[data-testid="stMain"], [data-testid="stAppViewContainer"],'
          + ' [data-testid="stSidebarContent"]')].map(e => e.scrollHeight))""")
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], min(int(height), 12_000))})
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(size)
    return path


def grid_rows(table, header: str) -> tuple[list[str], list[list[str]]]:
    """Headers and rows of an ``st.dataframe`` from the accessible table behind its canvas,
    once it has a column ``header`` (the table is filled in after the canvas shows)."""
    named = table.locator('th[role="columnheader"]').filter(has_text=re.compile(f"^{re.escape(header)}$"))
    expect(named).to_have_count(1)
    headers = table.locator('th[role="columnheader"]').all_inner_texts()
    rows = [r.locator("td").all_inner_texts() for r in table.locator('tr[role="row"]').all()]
    return headers, [r for r in rows if r]

"""A class on one server: simulated students that speak Streamlit's own protocol.

``python -m bench.loadtest [--sizes 10,50,100] [--distinct 20] [--readers 5]
[--lesson no-free-lunch-circles] [--out bench/loadtest.md]`` (``make loadtest``)

Each scenario starts ``streamlit run streamlit_app.py`` on a free loopback port
with an empty temporary data folder (``OPTLAB_DATA_DIR``), so every scenario
begins with a cold store, and stops it at the end. A student is one websocket
on ``/_stcore/stream`` that sends what a browser sends to open a page: a
``BackMsg`` with ``rerun_script`` (the page's query string and page name), then
reads ``ForwardMsg`` frames until ``script_finished``. A page is *rendered*
when its script finished successfully (``FINISHED_SUCCESSFULLY``) and showed
no exception. The latency runs from opening the websocket to that message, so
it is the server's figure, not a browser's.

Scenarios:

* **one link**: a teacher opens ``/lessons?lesson=<id>`` first (the warm-up,
  which trains the lesson's runs), then N students open the same link at once.
* **distinct configs**: N students each open the Train page with their own
  learning rate and press **Train** (a ``rerun_script`` whose widget states
  carry the button's trigger, as the browser sends on a click), so the server
  trains N different runs at once; meanwhile ``--readers`` students open the
  warmed lesson link, to show what a student who only reads waits.
* **heavy link**: one student opens ``/?dataset=moons&hidden=4096,4096,4096&epochs=1``,
  a shared link over the work limits: it is *rendered* when the page shows the
  refusal (an error naming the limit) and trains nothing; its row gives the
  server's peak memory meanwhile.

Per scenario: rendered / N, p50, p95 and max latency, the server's peak
resident memory (its process tree, sampled every 0.1 s, and the kernel's
high-water mark ``VmHWM``) and the trainings (runs added to the store). Every
wait is bounded (``--timeout`` per student) and everything runs on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
STREAM = "/_stcore/stream"
HEALTH = "/_stcore/health"
LESSON = "no-free-lunch-circles"  # a Compare lesson: 9 runs
TRAIN_BUTTON = "Train"
STARTUP_S = 60.0

# the Train page's link for one student: small moons network, the student's own learning rate
TRAIN_QUERY = {"dataset": "moons", "hidden": "16, 16", "epochs": "30", "optimizer": "adam",
               "mode": "minibatch", "batch_size": "32"}
# a shared link whose config is far over the work limits (2 GB of parameters and state)
HEAVY_QUERY = {"dataset": "moons", "hidden": "4096,4096,4096", "epochs": "1"}
REFUSAL = "the limit is"  # in the refusal the page shows (engine.limits.check's message)


# -- the server -------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_kb(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of one process in kB; zeros once it is gone."""
    rss = hwm = 0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    except (OSError, ValueError):
        pass
    return rss, hwm


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (workers a page may start)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            kids = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            kids = []
        todo.extend(int(k) for k in kids)
    return out


class Server:
    """``streamlit run streamlit_app.py`` on a free loopback port with its own data folder."""

    def __init__(self, extra_env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.tmp = Path(tempfile.mkdtemp(prefix="optlab-load-"))
        self.data = self.tmp / "data"
        self.log = self.tmp / "server.log"
        self.extra_env = extra_env or {}
        self.proc: subprocess.Popen | None = None
        self.peak_kb = 0
        self._stop = threading.Event()
        self._sampler: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        env = {**os.environ, "OPTLAB_DATA_DIR": str(self.data), **self.extra_env}
        env.pop("OPTLAB_STORE", None)
        cmd = [sys.executable, "-m", "streamlit", "run", "streamlit_app.py",
               "--server.port", str(self.port), "--server.address", "127.0.0.1",
               "--server.headless", "true", "--browser.gatherUsageStats", "false",
               "--server.fileWatcherType", "none", "--server.runOnSave", "false"]
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + STARTUP_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + HEALTH, timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.2)
        else:
            self.stop()
            raise RuntimeError(f"streamlit did not answer within {STARTUP_S:.0f} s: {self.log_tail()}")
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set() and self.proc is not None and self.proc.poll() is None:
            total = sum(_rss_kb(p)[0] for p in _tree(self.proc.pid))
            self.peak_kb = max(self.peak_kb, total, _rss_kb(self.proc.pid)[1])
            self._stop.wait(0.1)

    def reset_peak(self) -> None:
        """Start the peak over from the current size (the kernel's VmHWM cannot be reset,
        so from here on the peak is the sampled one)."""
        if self.proc is not None:
            self.peak_kb = sum(_rss_kb(p)[0] for p in _tree(self.proc.pid))

    def runs_stored(self) -> int:
        path = self.data / "runs.sqlite"
        if not path.exists():
            return 0
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)) as c:
            try:
                return int(c.execute("SELECT COUNT(*) FROM runs").fetchone()[0])
            except sqlite3.Error:
                return 0

    def log_tail(self, n: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def stop(self) -> None:
        self._stop.set()
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, 9)
                self.proc.wait(timeout=10)
        if self._sampler is not None:
            self._sampler.join(timeout=2)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@contextlib.contextmanager
def server(extra_env: dict[str, str] | None = None) -> Iterator[Server]:
    s = Server(extra_env)
    try:
        yield s.start()
    finally:
        s.stop()


# -- one student ------------------------------------------------------------------
@dataclass
class Visit:
    """What one student saw."""

    rendered: bool = False
    latency_s: float = float("nan")
    error: str = ""
    runs: int = 0  # script runs that finished (a button press is a second run)
    exceptions: list[str] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)  # error, warning and info boxes shown


def _rerun(query: str, page: str, page_hash: str = "", button: str | None = None) -> bytes:
    from streamlit.proto.BackMsg_pb2 import BackMsg

    msg = BackMsg()
    msg.rerun_script.query_string = query
    msg.rerun_script.page_name = page
    if page_hash:
        msg.rerun_script.page_script_hash = page_hash
    if button:
        w = msg.rerun_script.widget_states.widgets.add()
        w.id = button
        w.trigger_value = True
    return msg.SerializeToString()


async def _until_finished(ws, visit: Visit, want_button: str | None = None) -> tuple[bool, str, str]:
    """Read frames until the script run ends; return (success, page hash, id of ``want_button``)."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    page_hash, button = "", ""
    while True:
        raw = await ws.recv()
        msg = ForwardMsg()
        msg.ParseFromString(raw)
        kind = msg.WhichOneof("type")
        if kind == "new_session":
            page_hash = msg.new_session.page_script_hash or page_hash
        elif kind == "page_info_changed":
            pass
        elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
            el = msg.delta.new_element
            which = el.WhichOneof("type")
            if which == "exception":
                visit.exceptions.append(el.exception.message[:200])
            elif which == "alert":
                visit.alerts.append(el.alert.body[:300])
            elif which == "button" and want_button and el.button.label == want_button:
                button = el.button.id
        elif kind == "script_finished":
            status = msg.script_finished
            if status == ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                continue  # the page asked for a rerun: the next run is the one that counts
            visit.runs += 1
            return status == ForwardMsg.FINISHED_SUCCESSFULLY, page_hash, button


async def visit(base_ws: str, query: dict[str, str], page: str = "", press: str | None = None,
                timeout: float = 300.0) -> Visit:
    """Open ``page?query`` as a browser would; with ``press``, then click the button so labelled."""
    import websockets

    v = Visit()
    t0 = time.perf_counter()
    qs = urlencode(query)
    try:
        async with asyncio.timeout(timeout):
            async with websockets.connect(base_ws + STREAM, max_size=None, ping_interval=None,
                                          open_timeout=timeout, close_timeout=2) as ws:
                await ws.send(_rerun(qs, page))
                ok, page_hash, button = await _until_finished(ws, v, press)
                if ok and press:
                    if not button:
                        v.error = f"no {press!r} button on the page"
                        ok = False
                    else:
                        await ws.send(_rerun(qs, page, page_hash, button))
                        ok, _, _ = await _until_finished(ws, v)
                v.rendered = ok and not v.exceptions
                if not ok and not v.error:
                    v.error = "script did not finish successfully"
    except TimeoutError:
        v.error = f"no answer within {timeout:.0f} s"
    except (OSError, Exception) as e:  # noqa: BLE001 - a client's failure is a measurement
        v.error = f"{type(e).__name__}: {e}"[:200]
    v.latency_s = time.perf_counter() - t0
    if v.exceptions and not v.error:
        v.error = "exception shown: " + v.exceptions[0]
    return v


async def _class(base_ws: str, students: Sequence[tuple[dict[str, str], str, str | None]],
                 timeout: float) -> list[Visit]:
    return list(await asyncio.gather(*(visit(base_ws, q, page, press, timeout)
                                       for q, page, press in students)))


def ws_base(s: Server) -> str:
    return f"ws://127.0.0.1:{s.port}"


# -- scenarios --------------------------------------------------------------------------
@dataclass
class Row:
    scenario: str
    n: int
    visits: list[Visit]
    peak_mb: float
    trainings: int
    wall_s: float

    @property
    def rendered(self) -> int:
        return sum(v.rendered for v in self.visits)

    def pct(self, q: float) -> float:
        lat = sorted(v.latency_s for v in self.visits)
        if not lat:
            return float("nan")
        if len(lat) == 1:
            return lat[0]
        return statistics.quantiles(lat, n=100, method="inclusive")[int(q) - 1] if q < 100 else lat[-1]

    def errors(self) -> list[str]:
        return sorted({v.error for v in self.visits if v.error})


def lesson_query(lesson: str) -> dict[str, str]:
    return {"lesson": lesson}


def one_link(n: int, lesson: str = LESSON, timeout: float = 300.0) -> tuple[Row, Row]:
    """A fresh server; the teacher opens the lesson (warm-up), then ``n`` students at once."""
    with server() as s:
        base = ws_base(s)
        t0 = time.perf_counter()
        warm = asyncio.run(_class(base, [(lesson_query(lesson), "lessons", None)], timeout))
        warm_row = Row(f"warm-up: teacher opens /lessons?lesson={lesson}", 1, warm,
                       s.peak_kb / 1024, s.runs_stored(), time.perf_counter() - t0)
        before = s.runs_stored()
        s.reset_peak()
        t0 = time.perf_counter()
        visits = asyncio.run(_class(base, [(lesson_query(lesson), "lessons", None)] * n, timeout))
        time.sleep(0.3)  # one more memory sample after the last page
        row = Row(f"{n} students open /lessons?lesson={lesson}", n, visits, s.peak_kb / 1024,
                  s.runs_stored() - before, time.perf_counter() - t0)
    return warm_row, row


def learning_rates(n: int) -> list[str]:
    """``n`` distinct learning rates, log-spaced over [1e-3, 1e-1]."""
    return [f"{10 ** (-3 + 2 * i / max(n - 1, 1)):.6g}" for i in range(n)]


async def _later(delay: float, base_ws: str, query: dict[str, str], page: str, timeout: float) -> Visit:
    await asyncio.sleep(delay)
    return await visit(base_ws, query, page, None, timeout)


NOTES = "<!-- notes: written by hand, kept when the tables above are regenerated -->"
READER_START_S = 5.0  # the first reader during the trainings opens this long after the presses
READER_GAP_S = 5.0  # and the next ones this far apart


def distinct(n: int, readers: int = 5, lesson: str = LESSON,
             timeout: float = 600.0) -> tuple[Row, Row, Row]:
    """``n`` students train their own learning rate; ``readers`` read a warmed lesson at the
    same instant as the presses (the worst case: they queue behind ``n`` fresh sessions),
    and ``readers`` more during the trainings (one every ``READER_GAP_S`` seconds)."""
    with server() as s:
        base = ws_base(s)
        asyncio.run(_class(base, [(lesson_query(lesson), "lessons", None)], timeout))  # warm the lesson
        before = s.runs_stored()
        s.reset_peak()
        trainers = [({**TRAIN_QUERY, "opt.adam.lr": lr}, "", TRAIN_BUTTON) for lr in learning_rates(n)]
        at_once = [(lesson_query(lesson), "lessons", None)] * readers
        t0 = time.perf_counter()

        async def everyone() -> list[Visit]:
            later = [_later(READER_START_S + i * READER_GAP_S, base, lesson_query(lesson), "lessons",
                            timeout) for i in range(readers)]
            return list(await asyncio.gather(*(visit(base, q, page, press, timeout)
                                               for q, page, press in trainers + at_once), *later))

        visits = asyncio.run(everyone())
        wall = time.perf_counter() - t0
        time.sleep(0.3)
        trained = s.runs_stored() - before
        peak = s.peak_kb / 1024
    train_row = Row(f"{n} students press Train, each with its own lr", n, visits[:n], peak, trained, wall)
    during = Row(f"… meanwhile {readers} students open the warmed lesson, one every {READER_GAP_S:.0f} s "
                 f"from {READER_START_S:.0f} s after the presses", readers, visits[n + readers:], peak, 0,
                 wall)
    burst = Row(f"… and {readers} open it at the same instant as the {n} presses (the worst case)", readers,
                visits[n:n + readers], peak, 0, wall)
    return train_row, during, burst


def heavy_link(timeout: float = 300.0) -> Row:
    """A fresh server; one student opens a link far over the work limits."""
    with server() as s:
        s.reset_peak()
        t0 = time.perf_counter()
        (v,) = asyncio.run(_class(ws_base(s), [(HEAVY_QUERY, "", None)], timeout))
        if v.rendered and not any(REFUSAL in a for a in v.alerts):
            v.rendered, v.error = False, "no refusal shown"
        time.sleep(0.5)  # a training it started would show in memory and in the store
        link = "&".join(f"{k}={v}" for k, v in HEAVY_QUERY.items())
        return Row(f"heavy link /?{link}: refused before training", 1, [v],
                   s.peak_kb / 1024, s.runs_stored(), time.perf_counter() - t0)


# -- report -------------------------------------------------------------------------------
# the targets on a 2-core host: (what, rows it reads, the check)
TARGETS_TEXT = [
    ("50 students open one lesson link: all render, p95 ≤ 5 s", "50 students open"),
    ("100 students open one lesson link: all render, p95 ≤ 10 s", "100 students open"),
    ("a student reading a cached page while 50 train distinct configs: p95 ≤ 3 s", "meanwhile"),
    ("(worst case) … reading it at the same instant as the 50 presses: p95 ≤ 3 s", "same instant"),
    ("the heavy link: refused, server peak RSS ≤ 1.5 GB", "heavy link"),
]
LIMITS = {"50 students open": ("p95", 5.0), "100 students open": ("p95", 10.0),
          "meanwhile": ("p95", 3.0), "same instant": ("p95", 3.0), "heavy link": ("rss", 1536.0)}


def targets(rows: Sequence[Row]) -> str:
    """The targets table: each target, the measured figure and whether it is met."""
    lines = ["| target | measured | met |", "|---|---:|:---:|"]
    for text, marker in TARGETS_TEXT:
        row = next((r for r in rows if marker in r.scenario), None)
        if marker in ("meanwhile", "same instant"):
            trainers = next((r for r in rows if "press Train" in r.scenario), None)
            if trainers is not None and trainers.n != 50:
                text += f" (measured with {trainers.n} training)"
        if row is None:
            lines.append(f"| {text} | not run | – |")
            continue
        kind, limit = LIMITS[marker]
        value = row.peak_mb if kind == "rss" else row.pct(95)
        shown = f"{value:.0f} MB" if kind == "rss" else f"p95 {value:.2f} s"
        ok = row.rendered == row.n and value <= limit
        lines.append(f"| {text} | {shown}, {row.rendered}/{row.n} rendered | {'yes' if ok else 'no'} |")
    return "\n".join(lines)


def _busy() -> bool:
    """Whether other work kept a core busy in the minute before the run."""
    try:
        return os.getloadavg()[0] >= 1.0
    except OSError:
        return False


def _machine() -> str:
    from bench.machine import load_average

    try:
        mem = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal:"))
        mem_s = f"{mem / 2**20:.1f} GB"
    except (OSError, StopIteration, ValueError):
        mem_s = "?"
    from importlib.metadata import version

    return (f"{os.cpu_count()} cores, {mem_s} memory, load average before the run {load_average()}; "
            f"streamlit {version('streamlit')}, websockets {version('websockets')}, "
            f"Python {sys.version.split()[0]}")


def table(rows: Sequence[Row]) -> str:
    head = ("| scenario | N | rendered | p50 s | p95 s | max s | server peak RSS MB | trainings | wall s |\n"
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    lines = [head]
    for r in rows:
        lines.append(f"| {r.scenario} | {r.n} | {r.rendered}/{r.n} | {r.pct(50):.2f} | {r.pct(95):.2f} | "
                     f"{r.pct(100):.2f} | {r.peak_mb:.0f} | {r.trainings} | {r.wall_s:.1f} |")
    return "\n".join(lines)


def report(rows: Sequence[Row], machine: str, args: argparse.Namespace, busy: bool = False) -> str:
    errors = [f"- {r.scenario}: {e}" for r in rows for e in r.errors()]
    when = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    return "\n".join([
        "# Load test: a class on one server",
        "",
        f"`python -m bench.loadtest --sizes {args.sizes} --distinct {args.distinct} "
        f"--readers {args.readers} --lesson {args.lesson}`, {when}.",
        "",
        f"**Machine: {machine}.**" + (
            " **The machine was busy with other work before this ran**, so the latencies are an "
            "upper bound for a quiet host; rendered counts and trainings do not depend on the load."
            if busy else ""),
        "",
        "Each scenario runs on a freshly started server with an empty data folder. Clients speak "
        "Streamlit's websocket protocol (`/_stcore/stream`, `BackMsg.rerun_script`, "
        "`ForwardMsg.script_finished`), so the latencies are the server's: from opening the "
        "websocket to the end of the page's script run (for Train, to the end of the run the button "
        "press started). *Rendered*: the script finished successfully and showed no exception. "
        "*Trainings*: runs added to the store during the scenario (the server's background warm-up "
        "of the pages' default runs may add a few). *Peak RSS*: the server's process "
        "tree, sampled every 0.1 s (the warm-up row also includes the kernel's high-water mark).",
        "",
        table(rows),
        "",
        "Targets:",
        "",
        targets(rows),
        "",
        "Errors seen by clients:" if errors else "No client saw an error.",
        *errors,
        "",
    ])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.loadtest", description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="10,50,100", help="class sizes for the one-link scenario")
    p.add_argument("--distinct", type=int, default=20, help="students with distinct configs (0: skip)")
    p.add_argument("--readers", type=int, default=5, help="students reading a cached lesson meanwhile")
    p.add_argument("--lesson", default=LESSON, help="the lesson id of the shared link")
    p.add_argument("--heavy", action=argparse.BooleanOptionalAction, default=True,
                   help="open the heavy link (over the work limits) on its own server")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds one student waits at most")
    p.add_argument("--out", default=str(ROOT / "bench" / "loadtest.md"), help="markdown table ('-': print)")
    args = p.parse_args(argv)
    sizes = [int(x) for x in args.sizes.split(",") if x.strip()]
    if not all(1 <= n <= 500 for n in sizes) or not 0 <= args.distinct <= 500:
        p.error("class sizes must be in [1, 500]")
    machine, busy = _machine(), _busy()
    rows: list[Row] = []
    for n in sizes:
        warm, row = one_link(n, args.lesson, args.timeout)
        if not rows:
            rows.append(warm)
        rows.append(row)
        print(table(rows[-1:]).splitlines()[-1], flush=True)
    if args.distinct:
        rows.extend(distinct(args.distinct, args.readers, args.lesson, args.timeout))
        print(table(rows[-3:]), flush=True)
    if args.heavy:
        rows.append(heavy_link(args.timeout))
        print(table(rows[-1:]).splitlines()[-1], flush=True)
    text = report(rows, machine, args, busy)
    if args.out == "-":
        print(text)
    else:
        out = Path(args.out)
        old = out.read_text() if out.exists() else ""
        if NOTES in old:  # the hand-written analysis below the marker survives a new run
            text = text.rstrip("\n") + "\n\n" + NOTES + old.split(NOTES, 1)[1]
        out.write_text(text)
        print(f"wrote {args.out}")
    return 0 if all(r.rendered == r.n for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

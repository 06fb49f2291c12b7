"""Executors: where the run orchestrator's training happens.

The orchestrator (:mod:`engine.runs`) decides *what* to train: it removes
duplicates, reads the store and groups the missing runs by batch stream. An
executor decides *where*: it trains each group (runs that share a
:func:`engine.stacked.stack_key` train as one stacked computation; a group of
one trains alone) and yields every :class:`~engine.train.RunResult` as soon
as it is finished, in any order. The orchestrator stores each result as it
arrives, in the submitting process, so the store has one writer and a crash
loses nothing that finished.

Every executor gives the same results: the numbers depend only on the
configs, never on where they ran.

* :class:`InlineExecutor`: the calling thread (one command, tests).
* :class:`ProcessExecutor`: a bounded pool of local worker processes
  (``jobs``, default one per core); per-epoch progress comes back through a
  queue, stop flags live in shared memory, workers leave with their parent.
* :class:`DaskExecutor`: a Dask cluster at an operator-given scheduler
  address; groups are tasks, gathered as they complete.
* :func:`from_environment`: the operator's choice (``OPTLAB_DASK_SCHEDULER``,
  ``OPTLAB_JOBS``); never read from a page or a URL.

Parallel executors :func:`spread` the stacked groups over their workers
(by optimizer first), since a group is the unit of work.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import multiprocessing
import os
import queue
import sys
import threading
import time
import types
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from engine.config import RunConfig
from engine.train import RunResult

# progress(run key, the per-epoch progress dict of engine.train's callback);
# returning False stops that run (status "interrupted")
Progress = Callable[[str, dict[str, Any]], Any]
# should_stop() -> True asks every run of the call to stop
ShouldStop = Callable[[], bool]
# on_wait(n): n runs of other calls are queued ahead of this call's first waiting group,
# None once none of its groups waits for a worker
OnWait = Callable[[int | None], Any]


class Executor(ABC):
    """Trains groups of configs and yields their results as they finish."""

    name = "executor"

    @abstractmethod
    def run(
        self,
        groups: Sequence[Sequence[RunConfig]],
        progress: Progress | None = None,
        should_stop: ShouldStop | None = None,
        on_wait: OnWait | None = None,
    ) -> Iterator[RunResult]:
        """Train every group; yield each result as it finishes (any order).

        A run asked to stop (``progress`` returned False, or ``should_stop()``
        became True) is yielded with status ``interrupted``, within a fraction
        of a second even mid-epoch; groups not yet started when
        ``should_stop()`` becomes True are not started. ``should_stop`` is
        also asked while the call waits, a few times a second, so one that
        raises abandons the call. ``on_wait`` hears the call's place in the
        queue of an executor whose workers are all busy (see :data:`OnWait`).
        """

    def close(self) -> None:  # noqa: B027 - most executors hold no workers
        """Release workers (no-op for executors without any)."""


class InlineExecutor(Executor):
    """Trains in the calling thread, one group after another.

    The default for a single command and for tests: nothing to start, and a
    progress callback that raises (as Streamlit's does when a page is
    superseded) abandons the run at once.
    """

    name = "inline"

    def run(self, groups, progress=None, should_stop=None, on_wait=None):
        import engine  # looked up at call time, so a test can count the calls

        for group in groups:
            if should_stop is not None and should_stop():
                return
            keys = [c.key() for c in group]
            yield from engine.train_many(list(group), _epoch_callback(keys, progress, should_stop),
                                         _inside_epoch(should_stop))


def _epoch_callback(keys: list[str], progress: Progress | None, should_stop: ShouldStop | None):
    """The per-run, per-epoch callback of engine.train_many for one group."""
    if progress is None and should_stop is None:
        return None

    def callback(i: int, p: dict[str, Any]) -> Any:
        answer = progress(keys[i], p) if progress is not None else None
        if should_stop is not None and should_stop():
            return False
        return answer

    return callback


def _inside_epoch(should_stop: ShouldStop | None):
    """``should_stop`` as engine.train_many's per-run stop check inside an epoch.

    Inline, the check runs in the calling thread a few times a second, so a
    ``should_stop`` that raises (a page's script asked to stop or rerun)
    abandons the run mid-epoch.
    """
    return None if should_stop is None else (lambda _i: should_stop())


def _close_at_exit(executor: Executor) -> None:
    """Close ``executor`` when the interpreter exits, without keeping it alive until then."""
    ref = weakref.ref(executor)

    def close() -> None:
        ex = ref()
        if ex is not None:
            ex.close()

    atexit.register(close)


def spread(groups: Sequence[Sequence[RunConfig]], workers: int) -> list[list[RunConfig]]:
    """Split stacked groups so that ``workers`` can train them in parallel.

    A group first splits by optimizer (runs of one optimizer still stack and
    take one vectorised step); then, while there are fewer groups than
    workers, the largest splits in two. Stacking is an optimisation only: a
    run's numbers are the same in any group.
    """
    out: list[list[RunConfig]] = []
    for group in groups:
        by_opt: dict[str, list[RunConfig]] = {}
        for c in group:
            by_opt.setdefault(c.optimizer, []).append(c)
        out.extend(by_opt.values() if workers > 1 else [list(group)])
    while len(out) < workers:
        largest = max(range(len(out)), key=lambda i: len(out[i]), default=None)
        if largest is None or len(out[largest]) < 2:
            break
        g = out.pop(largest)
        out[largest:largest] = [g[:len(g) // 2], g[len(g) // 2:]]
    return out


# --------------------------------------------------------------------------
# a bounded pool of local worker processes

_MAIN_LOCK = threading.Lock()


@contextlib.contextmanager
def _bare_main():
    """Start worker processes from a bare ``__main__``.

    A spawned process first re-runs its parent's ``__main__`` file (the
    ``spawn`` start method's rule). In a Streamlit server ``__main__`` is the
    page script being run, which a worker must never execute (it would draw
    a page, and could start a pool of its own): while workers start, the
    parent's ``__main__`` is a module with no file.
    """
    with _MAIN_LOCK:
        main = sys.modules.get("__main__")
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            yield
        finally:
            if main is not None:
                sys.modules["__main__"] = main


# A pool's shared stop flags: one byte per run in flight, handed out per call.
_FLAG_SLOTS = 1 << 14

# Niceness added to each pool worker (Linux's default weights: ~10 server slices per worker's)
WORKER_NICE = 10

# Set in each worker process by _init_worker.
_worker: dict[str, Any] = {}


def _init_worker(events, flags, watch_pid: int) -> None:
    """Worker start-up: lower its CPU priority, keep the shared queue and flags, and exit
    when the parent is gone."""
    _worker.update(events=events, flags=flags)
    # Training is batch work; the parent serving pages is interactive. A worker at a lower
    # priority still has every idle cycle, but a page view no longer waits behind it.
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICE)

    def watchdog() -> None:
        # A pool's workers block on a queue the dead parent can no longer close:
        # watch the parent process and leave with it.
        while True:
            time.sleep(0.5)
            if os.getppid() != watch_pid:
                os._exit(0)

    threading.Thread(target=watchdog, name="parent-watchdog", daemon=True).start()


def _train_pooled(configs: list[RunConfig], slots: list[int], call: int) -> list[RunResult]:
    """One stacked group in a pool worker; progress goes to the parent through the queue."""
    import engine

    events, flags = _worker["events"], _worker["flags"]
    keys = [c.key() for c in configs]

    def callback(i: int, p: dict[str, Any]) -> Any:
        events.put((call, keys[i], p))
        return False if flags[slots[i]] else None

    def stopped(i: int) -> bool:  # read inside each epoch, a few times a second
        return bool(flags[slots[i]])

    events.put((call, "", slots[0]))  # the group has left the queue: a worker is on it
    try:
        if any(flags[s] for s in slots):
            return []  # stopped before it started
        return engine.train_many(configs, callback, stopped)
    finally:
        # the group's last message: everything it reported before is in the queue ahead of it
        events.put((call, None, slots[0]))


class ProcessExecutor(Executor):
    """A bounded pool of worker processes; a stacked group is the unit of work.

    ``jobs`` workers (default: the number of cores) start on first use and
    are reused by later calls, also by calls from several threads at once.
    Each worker trains with one BLAS thread per small network, as a single
    run does, so the results are bit-identical to :class:`InlineExecutor`'s.

    Progress: workers send each epoch's progress through a queue that the
    calling thread drains while it waits. Stop: every run in flight has a
    byte in shared memory that its epoch callback reads; ``should_stop()``
    or a ``progress`` that returns False or raises sets it, so a running
    group ends within a fraction of a second (the training loop reads it
    inside its epochs too), and groups not started are cancelled. Queue:
    groups wait in submission order for a free worker; ``on_wait`` hears how
    many runs of earlier calls are ahead of a call's first waiting group
    (:meth:`runs_ahead`). Workers never outlive the parent: :meth:`close` (also
    registered with :mod:`atexit`) shuts them down, and each worker exits on
    its own when its parent process dies.
    """

    name = "process"

    def __init__(self, jobs: int | None = None) -> None:
        if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
            raise ValueError(f"jobs: {jobs!r} is not allowed; allowed: a whole number >= 1")
        self.jobs = jobs or os.cpu_count() or 1
        self._ctx = multiprocessing.get_context("spawn")
        self._pool: ProcessPoolExecutor | None = None
        self._events = None
        self._flags = None
        self._free: list[int] = []
        self._calls = itertools.count()
        self._routes: dict[int, queue.SimpleQueue] = {}
        # groups submitted and not yet on a worker, in submission order: (call, first slot) -> runs
        self._queued: dict[tuple[int, int], int] = {}
        self._lock = threading.RLock()
        _close_at_exit(self)

    # -- the pool --------------------------------------------------------------
    def _ensure_pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._events = self._ctx.Queue()
                self._flags = self._ctx.RawArray("b", _FLAG_SLOTS)
                self._free = list(range(_FLAG_SLOTS - 1, -1, -1))
                self._pool = ProcessPoolExecutor(
                    self.jobs, mp_context=self._ctx, initializer=_init_worker,
                    initargs=(self._events, self._flags, os.getpid()),
                )
            return self._pool

    def worker_pids(self) -> list[int]:
        """Process ids of the live workers (none before the first call or after close)."""
        pool = self._pool
        procs = getattr(pool, "_processes", None) or {}
        return [p.pid for p in list(procs.values()) if p.is_alive()]

    def _take_slots(self, n: int) -> list[int]:
        with self._lock:
            if n > len(self._free):
                raise RuntimeError(f"more than {_FLAG_SLOTS} runs in flight at once")
            slots = [self._free.pop() for _ in range(n)]
            for s in slots:
                self._flags[s] = 0
            return slots

    def _drain(self) -> None:
        """Move every queued progress message to the queue of the call it belongs to."""
        while True:
            try:
                call, key, p = self._events.get_nowait()
            except (queue.Empty, OSError, ValueError):
                return
            if key == "":  # the group whose first slot is p has reached a worker
                self._queued.pop((call, p), None)
                continue
            route = self._routes.get(call)
            if route is not None:
                route.put((key, p))  # key None: the group whose first slot is p has ended

    @property
    def queued(self) -> int:
        """Runs waiting for a free worker, over every call."""
        with self._lock:
            return sum(self._queued.values())

    def runs_ahead(self, groups: set[tuple[int, int]]) -> int | None:
        """Runs queued ahead of the first of ``groups`` ((call, first slot)) still waiting;
        None when none of them waits."""
        with self._lock:
            ahead = 0
            for group, n in self._queued.items():
                if group in groups:
                    return ahead
                ahead += n
            return None

    def _dequeue(self, group: tuple[int, int], slots: list[int]) -> None:
        """A group's future is done (finished, failed or cancelled)."""
        with self._lock:
            self._queued.pop(group, None)
            self._free.extend(slots)

    def _progress_of(self, inbox: queue.SimpleQueue, progress: Progress | None, slot_of: dict[str, int],
                     ended: set[int]) -> None:
        with self._lock:
            self._drain()
        while not inbox.empty():
            key, p = inbox.get()
            if key is None:
                ended.add(p)
            elif progress is not None and progress(key, p) is False:
                self._flags[slot_of[key]] = 1

    # -- running ---------------------------------------------------------------
    def run(self, groups, progress=None, should_stop=None, on_wait=None):
        pool = self._ensure_pool()
        call = next(self._calls)
        inbox: queue.SimpleQueue = queue.SimpleQueue()
        self._routes[call] = inbox
        slot_of: dict[str, int] = {}
        futures = {}
        ended: set[int] = set()  # first slots of the groups whose last message has arrived
        mine: set[tuple[int, int]] = set()  # this call's groups, as the queue names them
        waited: list[int | None] = [None]  # the last queue position told to on_wait
        try:
            for group in spread(groups, self.jobs):
                slots = self._take_slots(len(group))
                slot_of.update({c.key(): s for c, s in zip(group, slots, strict=True)})
                name = (call, slots[0])
                with self._lock:
                    self._queued[name] = len(group)
                mine.add(name)
                try:
                    with _bare_main():  # a submit may start a worker process
                        future = pool.submit(_train_pooled, group, slots, call)
                except BaseException:
                    self._dequeue(name, slots)
                    raise
                # a slot is reused only once its run can no longer read it
                future.add_done_callback(lambda _f, name=name, slots=slots: self._dequeue(name, slots))
                futures[future] = group
            pending = set(futures)
            stopped = False
            while pending:
                done, pending = wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
                self._progress_of(inbox, progress, slot_of, ended)
                if on_wait is not None:
                    ahead = self.runs_ahead(mine)
                    if ahead != waited[0]:
                        waited[0] = ahead
                        on_wait(ahead)
                if not stopped and should_stop is not None and should_stop():
                    stopped = True
                    for s in slot_of.values():
                        self._flags[s] = 1
                    for f in pending:
                        f.cancel()
                for f in done:
                    if f.cancelled():
                        continue
                    results = f.result()
                    # report a group's last epochs before its results
                    first = slot_of[futures[f][0].key()]
                    deadline = time.monotonic() + 5.0
                    while first not in ended and time.monotonic() < deadline:
                        time.sleep(0.005)
                        self._progress_of(inbox, progress, slot_of, ended)
                    yield from results
        except BrokenProcessPool:
            with self._lock:  # a worker died: the next call starts a new pool
                if self._pool is pool:
                    self._pool = None
            raise
        finally:
            with self._lock:  # held, so no slot is given back (and reused) while it is flagged here
                for f, group in futures.items():
                    if not f.done():  # abandoned (an exception, or the caller stopped iterating)
                        for c in group:
                            self._flags[slot_of[c.key()]] = 1
                        f.cancel()
            self._routes.pop(call, None)

    def close(self) -> None:
        """Stop the workers and wait for them to exit."""
        with self._lock:
            pool, self._pool = self._pool, None
            flags = self._flags
        if pool is None:
            return
        if flags is not None:
            for s in range(_FLAG_SLOTS):
                flags[s] = 1
        procs = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=True, cancel_futures=True)
        for p in procs:  # a worker stuck in a long epoch is not waited for
            p.join(5)
            if p.is_alive():
                p.kill()
                p.join(5)
        if self._events is not None:
            self._events.close()
            self._events.join_thread()
        self._events = None


# --------------------------------------------------------------------------
# a Dask cluster


def _train_dask(configs: list[RunConfig], stop_name: str, topic: str) -> list[RunResult]:
    """One stacked group on a Dask worker; progress as worker events, stop as a cluster Event."""
    from dask.distributed import Event, get_worker

    import engine

    stop = Event(stop_name)
    if stop.is_set():
        return []  # stopped before it started
    worker = get_worker()
    keys = [c.key() for c in configs]
    checked = {"at": time.monotonic(), "stop": False}

    def stopped(_i: int = 0) -> bool:
        # the flag lives on the scheduler: ask at most every 0.2 s, not every epoch of every run
        now = time.monotonic()
        if not checked["stop"] and now - checked["at"] >= 0.2:
            checked["at"], checked["stop"] = now, stop.is_set()
        return checked["stop"]

    def callback(i: int, p: dict[str, Any]) -> Any:
        # events travel as msgpack: plain Python numbers only
        plain = {k: v.item() if hasattr(v, "item") else v for k, v in p.items()}
        worker.log_event(topic, {"key": keys[i], "progress": plain})
        return False if stopped() else None

    return engine.train_many(configs, callback, stopped)


class DaskExecutor(Executor):
    """Stacked groups as tasks on a Dask cluster (``dask.distributed``).

    ``address`` is the scheduler's address (``tcp://host:8786``) and must
    come from the operator (a command-line flag or ``OPTLAB_DASK_SCHEDULER``),
    never from a page, a URL or an upload: a scheduler runs whatever it is
    sent. Results are gathered as they complete and stored by the submitting
    process. Progress arrives as worker events; stop is a cluster-wide
    :class:`dask.distributed.Event` per call that the epoch callback reads,
    and futures not yet finished are cancelled when the call ends early.
    The workers must run the same engine (the same run keys): a result
    whose key was not asked for is refused.
    """

    name = "dask"

    def __init__(self, address: Any, timeout: float = 10.0) -> None:
        from dask.distributed import Client

        self.address = address
        self.client = Client(address, timeout=timeout, set_as_default=False)
        _close_at_exit(self)

    def run(self, groups, progress=None, should_stop=None, on_wait=None):
        import uuid

        from dask.distributed import Event, as_completed

        call = uuid.uuid4().hex
        stop_name, topic = f"optlab-stop-{call}", f"optlab-progress-{call}"
        inbox: queue.SimpleQueue = queue.SimpleQueue()
        if progress is not None:
            self.client.subscribe_topic(topic, lambda event: inbox.put(event[1]))
        stop = Event(stop_name, client=self.client)
        workers = sum(self.client.nthreads().values())
        groups = spread(groups, max(1, workers))
        wanted = {c.key() for g in groups for c in g}
        futures = [self.client.submit(_train_dask, g, stop_name, topic, pure=False) for g in groups]
        pending = as_completed(futures, loop=self.client.loop)
        stopped = False
        try:
            while not pending.is_empty():
                while not inbox.empty():
                    msg = inbox.get()
                    if progress(msg["key"], msg["progress"]) is False:
                        stopped = True  # Dask has no per-run flag: stop the call's runs
                        stop.set()
                if not stopped and should_stop is not None and should_stop():
                    stopped = True
                    stop.set()
                if not pending.has_ready():
                    time.sleep(0.05)
                    continue
                for f in pending.next_batch(block=False):
                    if f.cancelled():
                        continue
                    for result in f.result():
                        if result.key not in wanted:
                            raise RuntimeError(
                                "a Dask worker returned a run this call did not ask for: the "
                                "workers run another engine version; install the same engine there"
                            )
                        yield result
        finally:
            unfinished = [f for f in futures if not f.done()]
            if unfinished:  # abandoned (an exception, or the caller stopped iterating): stop the
                stop.set()  # running tasks mid-epoch too, since cancelling does not interrupt them
            self.client.cancel(unfinished)
            if progress is not None:
                self.client.unsubscribe_topic(topic)

    def close(self) -> None:
        client = getattr(self, "client", None)
        if client is not None:
            self.client = None
            client.close()


def from_environment(environ: Any = None) -> Executor:
    """The executor the operator chose: ``OPTLAB_DASK_SCHEDULER`` or ``OPTLAB_JOBS``.

    ``OPTLAB_DASK_SCHEDULER=tcp://host:8786``: a :class:`DaskExecutor` on that
    scheduler. Else ``OPTLAB_JOBS=N``: a :class:`ProcessExecutor` of N
    workers, or the :class:`InlineExecutor` for 0 or 1. Neither set: a pool
    of one worker per core (inline on a one-core machine). Only the
    operator's environment is read, never a page or a URL.
    """
    env = os.environ if environ is None else environ
    address = str(env.get("OPTLAB_DASK_SCHEDULER", "")).strip()
    if address:
        return DaskExecutor(address)
    raw = str(env.get("OPTLAB_JOBS", "")).strip()
    if raw:
        try:
            jobs = int(raw)
        except ValueError:
            jobs = -1
        if jobs < 0:
            raise ValueError(f"OPTLAB_JOBS: {raw!r} is not allowed; allowed: a whole number >= 0 "
                             "(0 or 1 trains in the calling thread)")
    else:
        jobs = os.cpu_count() or 1
    return local(jobs)


def local(jobs: int = 1) -> Executor:
    """An executor on this machine with ``jobs`` worker processes (0 or 1: this thread)."""
    return InlineExecutor() if jobs <= 1 else ProcessExecutor(jobs)

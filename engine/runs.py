"""The run orchestrator: everything that needs runs asks here.

The app's pages, the lessons, sweeps and the command line hand a list of
configs to :meth:`Orchestrator.run`, which

1. removes duplicates (one training per :meth:`RunConfig.key`),
2. reads what is already known: a bounded in-memory cache of decoded
   results, then the :class:`~engine.store.RunStore`,
3. waits for a run another caller of the same orchestrator is training right
   now instead of training it twice (sessions of one server share one
   orchestrator),
4. groups the rest by batch stream (:func:`engine.stacked.stack_key`), so
   runs that share batches train as one stacked computation,
5. hands the groups to an :class:`~engine.executors.Executor` (in this
   thread, a pool of worker processes, or a Dask cluster),
6. stores each result as it arrives, from this process only, and reports it.

A run that was stopped (status ``interrupted``) is returned but never stored
or cached: asking again trains it from the start. A store that cannot be
written (a read-only or full disk) loses nothing: the result is still
returned and kept in memory, and :attr:`Orchestrator.store_error` says why.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from engine.config import RunConfig
from engine.executors import Executor, InlineExecutor, OnWait, Progress, ShouldStop
from engine.stacked import stack_key
from engine.train import RunResult

ResultHook = Callable[[RunResult], Any]


def result_nbytes(result: RunResult) -> int:
    """Approximate memory of a decoded result (arrays and history)."""
    n = 0 if result.params is None else result.params.nbytes
    for v in (*result.opt_state.values(), *result.model_state.values()):
        n += getattr(v, "nbytes", 0)
    return n + int(result.history.memory_usage(index=False, deep=False).sum())


class ResultCache:
    """A thread-safe LRU of decoded results, bounded by count and by bytes.

    Results are shared, not copied: callers must treat them as read-only.
    """

    def __init__(self, max_entries: int = 128, max_bytes: int = 256 * 2**20) -> None:
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._items: OrderedDict[str, tuple[RunResult, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> RunResult | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            self._items.move_to_end(key)
            return item[0]

    def put(self, result: RunResult) -> None:
        size = result_nbytes(result)
        if size > self.max_bytes:
            return  # larger than the whole cache: read it from the store each time
        with self._lock:
            old = self._items.pop(result.key, None)
            if old is not None:
                self._bytes -= old[1]
            self._items[result.key] = (result, size)
            self._bytes += size
            while len(self._items) > self.max_entries or self._bytes > self.max_bytes:
                _, (_, dropped) = self._items.popitem(last=False)
                self._bytes -= dropped

    def discard(self, keys: Sequence[str]) -> None:
        with self._lock:
            for k in keys:
                item = self._items.pop(k, None)
                if item is not None:
                    self._bytes -= item[1]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._items)


class Orchestrator:
    """De-duplicates, reads the store, stacks, trains through an executor, stores.

    ``store`` is anything with ``get(key)`` and ``put(result, label=...)``
    (a :class:`~engine.store.RunStore`), or None for runs kept in memory only.
    """

    def __init__(self, store: Any = None, executor: Executor | None = None,
                 cache: ResultCache | None = None) -> None:
        self.store = store
        self.executor = executor or InlineExecutor()
        self.cache = cache if cache is not None else ResultCache()
        self.trained = 0  # runs this orchestrator handed to its executor
        self.store_error: str | None = None  # why the last store write failed, if it did
        self._inflight: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    # -- reading -----------------------------------------------------------
    def lookup(self, config: RunConfig) -> RunResult | None:
        """The finished result of ``config`` if it is known; never trains."""
        return self.lookup_key(config.key())

    def lookup_key(self, key: str) -> RunResult | None:
        found = self.cache.get(key)
        if found is not None or self.store is None:
            return found
        try:
            found = self.store.get(key)
        except (sqlite3.Error, OSError, ValueError):
            return None  # an unreadable row is a miss, not a crash
        if found is not None:
            self.cache.put(found)
        return found

    def forget(self, keys: Sequence[str]) -> None:
        """Drop results from the memory cache (after they were deleted from the store)."""
        self.cache.discard(keys)

    # -- running -----------------------------------------------------------
    def run(
        self,
        configs: Sequence[RunConfig],
        *,
        labels: Sequence[str | None] | None = None,
        progress: Progress | None = None,
        should_stop: ShouldStop | None = None,
        on_result: ResultHook | None = None,
        on_wait: OnWait | None = None,
    ) -> list[RunResult | None]:
        """The result of every config, in order: known ones read back, the rest trained.

        ``labels[i]`` is stored with run ``i`` (the Runs page shows it).
        ``progress(key, p)`` is called every epoch of every run trained here;
        ``on_result(result)`` once per run as it finishes (stored runs and
        runs read back included). A run that was stopped comes back with
        status ``interrupted``; a run another caller was training and then
        abandoned comes back as None when ``should_stop()`` is True, and is
        trained here otherwise. ``should_stop`` is also asked inside every
        epoch, a few times a second, so a stop is seen within a second; one
        that raises abandons the call. ``on_wait(n)`` hears how many runs are
        queued ahead of this call's when the executor's workers are all busy
        (None once none of its runs waits).
        """
        configs = list(configs)
        for i, c in enumerate(configs):
            if not isinstance(c, RunConfig):
                raise ValueError(f"configs[{i}]: expected a RunConfig, got {type(c).__name__}")
        labels = list(labels) if labels is not None else [None] * len(configs)
        if len(labels) != len(configs):
            raise ValueError(f"labels: {len(labels)} labels for {len(configs)} configs")
        unique: dict[str, tuple[RunConfig, str | None]] = {}
        for c, label in zip(configs, labels, strict=True):
            unique.setdefault(c.key(), (c, label))
        done: dict[str, RunResult] = {}
        pending = list(unique)
        while pending:
            for key in pending:
                found = self.lookup_key(key)
                if found is not None:
                    done[key] = found
                    if on_result is not None:
                        on_result(found)
            mine, theirs = self._claim([k for k in pending if k not in done])
            try:
                if mine:
                    self._train([unique[k] for k in mine], done, progress, should_stop, on_result, on_wait)
            finally:
                self._release(mine)
            pending = self._wait(theirs, should_stop)
        return [done.get(c.key()) for c in configs]

    def _claim(self, keys: list[str]) -> tuple[list[str], list[tuple[str, threading.Event]]]:
        """Split keys into those this call trains and those another call is training."""
        mine, theirs = [], []
        with self._lock:
            for key in keys:
                event = self._inflight.get(key)
                if event is None:
                    self._inflight[key] = threading.Event()
                    mine.append(key)
                else:
                    theirs.append((key, event))
        return mine, theirs

    def _release(self, keys: list[str]) -> None:
        with self._lock:
            for key in keys:
                event = self._inflight.pop(key, None)
                if event is not None:
                    event.set()

    def _wait(self, theirs: list[tuple[str, threading.Event]], should_stop: ShouldStop | None) -> list[str]:
        """Wait for runs trained by other callers; return the keys to look up again."""
        again = []
        for key, event in theirs:
            while not event.wait(0.2):
                if should_stop is not None and should_stop():
                    return []
            again.append(key)
        return again

    def _train(self, items: list[tuple[RunConfig, str | None]], done: dict[str, RunResult],
               progress: Progress | None, should_stop: ShouldStop | None,
               on_result: ResultHook | None, on_wait: OnWait | None = None) -> None:
        labels = {c.key(): label for c, label in items}
        groups: dict[Any, list[RunConfig]] = {}
        alone: list[list[RunConfig]] = []
        for c, _ in items:
            sk = stack_key(c)
            if sk is None:
                alone.append([c])
            else:
                groups.setdefault(sk, []).append(c)
        batches = [*groups.values(), *alone]
        self.trained += len(items)
        # on_wait only when asked for: an executor written before queues takes three arguments
        extra = {} if on_wait is None else {"on_wait": on_wait}
        for result in self.executor.run(batches, progress, should_stop, **extra):
            done[result.key] = result
            if result.status != "interrupted":
                self._keep(result, labels.get(result.key))
            if on_result is not None:
                on_result(result)

    def keep(self, result: RunResult, label: str | None = None) -> None:
        """Cache and store a run trained outside :meth:`run` (a checkpoint trained on); like a
        run trained here, an interrupted one is not kept."""
        if result.status != "interrupted":
            self._keep(result, label)

    def _keep(self, result: RunResult, label: str | None) -> None:
        """Cache a finished run and write it to the store (a failed write loses nothing)."""
        self.cache.put(result)
        if self.store is None:
            return
        try:
            self.store.put(result, label=label)
            self.store_error = None
        except (sqlite3.Error, OSError) as e:
            self.store_error = f"The run store could not be written ({e}); new runs are kept in memory only."

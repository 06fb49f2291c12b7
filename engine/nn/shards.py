"""Two halves of a large batch: fixed split points, optionally on two threads.

A batch whose products are large enough (rows × multiply-adds per row ≥
:data:`SPLIT_WORK`) is computed as two shards of rows, ``[0, cut)`` and
``[cut, n)`` with ``cut = n // 2``. Each shard runs the whole forward and
backward pass on its columns of the work buffers, with one BLAS thread, and
writes its own weight gradient; the batch's gradient is then
``g = g_first + g_second`` and its loss the sum of the shards' parts of the
mean. The split points and the order of that sum depend only on the batch size
and the architecture, so a run's numbers are the same whether the two shards
run one after the other or at once on two threads: the thread count is an
execution choice, never part of the numerics.

Why not BLAS's own threads: OpenBLAS splits a product's sums by its thread
count (so the result depends on the host), and its idle threads spin, which on
a busy 2-core server made a run many times slower. Two Python threads that
each call single-threaded BLAS (NumPy releases the GIL inside it) block when
idle and give the same bits on any host.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

# Multiply-adds of one pass over a batch (rows × Σ (fan_in + 1)·fan_out) from which the
# batch is split: below it the hand-off to a second thread (~20 µs) and the halved
# products' lower efficiency cost more than they save (bench/results.md, "Two halves").
SPLIT_WORK = 1 << 22
MIN_ROWS = 64  # a shard smaller than this is not worth a thread
SHARDS = 2


def cut(rows: int, macs_per_row: int) -> int:
    """Where a batch of ``rows`` splits (the first shard's size), or 0: not split."""
    if rows < SHARDS * MIN_ROWS or rows * macs_per_row < SPLIT_WORK:
        return 0
    return rows // 2


class _Helper:
    """A thread that runs one function at a time for :func:`both`.

    Two locks hand the work over: ``_go`` is released to start it and
    ``_done`` when it has finished, which costs a few µs, far less than an
    executor's future.
    """

    def __init__(self) -> None:
        self._go, self._done = threading.Lock(), threading.Lock()
        self._go.acquire()
        self._done.acquire()
        self._fn: Callable[[], None] | None = None
        self._error: BaseException | None = None
        threading.Thread(target=self._loop, name="optlab-shard", daemon=True).start()

    def _loop(self) -> None:
        while True:
            self._go.acquire()
            try:
                self._fn()
            except BaseException as e:  # handed to the caller, who re-raises it
                self._error = e
            self._done.release()

    def start(self, fn: Callable[[], None]) -> None:
        self._fn, self._error = fn, None
        self._go.release()

    def join(self) -> BaseException | None:
        """Wait for the work; return what it raised, if anything."""
        self._done.acquire()
        error, self._fn, self._error = self._error, None, None
        return error


_idle: list[_Helper] = []
_idle_lock = threading.Lock()


def both(first: Callable[[], None], second: Callable[[], None], parallel: bool) -> None:
    """Run ``first`` and ``second``; with ``parallel``, ``second`` on a helper thread meanwhile.

    Returns when both have finished; an exception from either is raised here
    (the first's if both raise). Helpers are kept and reused, one per caller
    running at the same time, so training from several threads of one
    process (the app's inline mode) is safe.
    """
    if not parallel:
        first()
        second()
        return
    with _idle_lock:
        helper = _idle.pop() if _idle else None
    if helper is None:
        helper = _Helper()
    helper.start(second)
    try:
        first()
    finally:  # the helper must be idle again before anything leaves, even an exception
        error = helper.join()
        with _idle_lock:
            _idle.append(helper)
    if error is not None:
        raise error

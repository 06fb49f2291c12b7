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
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from engine.config import RunConfig
from engine.train import RunResult

# progress(run key, the per-epoch progress dict of engine.train's callback);
# returning False stops that run (status "interrupted")
Progress = Callable[[str, dict[str, Any]], Any]
# should_stop() -> True asks every run of the call to stop
ShouldStop = Callable[[], bool]


class Executor(ABC):
    """Trains groups of configs and yields their results as they finish."""

    name = "executor"

    @abstractmethod
    def run(
        self,
        groups: Sequence[Sequence[RunConfig]],
        progress: Progress | None = None,
        should_stop: ShouldStop | None = None,
    ) -> Iterator[RunResult]:
        """Train every group; yield each result as it finishes (any order).

        A run asked to stop (``progress`` returned False, or ``should_stop()``
        became True) is yielded with status ``interrupted``; groups not yet
        started when ``should_stop()`` becomes True are not started.
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

    def run(self, groups, progress=None, should_stop=None):
        import engine  # looked up at call time, so a test can count the calls

        for group in groups:
            if should_stop is not None and should_stop():
                return
            keys = [c.key() for c in group]
            yield from engine.train_many(list(group), _epoch_callback(keys, progress, should_stop))


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


def local(jobs: int = 1) -> Executor:
    """An executor on this machine with ``jobs`` workers (1: in this thread)."""
    return InlineExecutor()


def from_environment() -> Executor:
    """The executor the operator chose (environment only, never a URL or an upload)."""
    return InlineExecutor()

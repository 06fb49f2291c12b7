"""The load test's small version: 10 students open one lesson link on a real server.

Every page must render (the script finished successfully, no exception shown)
and the shared lesson trains once, in the teacher's warm-up, never again for
the class. No timing is asserted: ``make loadtest`` measures that.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from bench import loadtest
from engine import lessons

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def test_ten_students_on_one_link_all_render(monkeypatch):
    # only the lesson trains: the server's warm-up of the pages' defaults is off
    monkeypatch.setenv("OPTLAB_WARM_PAGES", "0")
    # its own thread: the xdist worker may already run an event loop (Playwright's, for the
    # browser tests), and the load test's clients run one of their own
    with ThreadPoolExecutor(1) as pool:
        warm, row = pool.submit(loadtest.one_link, 10, loadtest.LESSON, timeout=90).result()
    assert warm.rendered == 1, warm.errors()
    assert row.rendered == 10, row.errors()
    assert warm.trainings == len(set(lessons.configs(loadtest.LESSON)))
    assert row.trainings == 0  # identical links are served from the store and the cache
    assert all(v.runs == 1 for v in row.visits)

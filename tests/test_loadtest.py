"""The load test's small version: 10 students open one lesson link on a real server.

Every page must render (the script finished successfully, no exception shown)
and the shared lesson trains once, in the teacher's warm-up, never again for
the class. No timing is asserted: ``make loadtest`` measures that.
"""

from __future__ import annotations

import pytest

from bench import loadtest
from engine import lessons

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def test_ten_students_on_one_link_all_render(monkeypatch):
    # only the lesson trains: the server's warm-up of the pages' defaults is off
    monkeypatch.setenv("OPTLAB_WARM_PAGES", "0")
    warm, row = loadtest.one_link(10, loadtest.LESSON, timeout=90)
    assert warm.rendered == 1, warm.errors()
    assert row.rendered == 10, row.errors()
    assert warm.trainings == len(set(lessons.configs(loadtest.LESSON)))
    assert row.trainings == 0  # identical links are served from the store and the cache
    assert all(v.runs == 1 for v in row.visits)

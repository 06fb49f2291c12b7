"""Session-wide test set-up: a private data folder per worker, empty Streamlit caches per test.

Streamlit is imported lazily (only when a test has already imported it), so the pure
engine tests never pay for it.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile

import pytest

_DATA_DIR: str | None = None


def pytest_configure(config: pytest.Config) -> None:
    """Point the engine at a temporary data folder before any test module is imported.

    Runs in every xdist worker (and the controller), so each process gets its own folder;
    the repository's data/ is never written by the tests.
    """
    global _DATA_DIR
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    _DATA_DIR = tempfile.mkdtemp(prefix=f"optlab-data-{worker}-")
    os.environ["OPTLAB_DATA_DIR"] = _DATA_DIR
    os.environ.pop("OPTLAB_STORE", None)
    # In-process app tests train in the test's own thread (they count the engine's calls);
    # the browser tests' server, and tests/ui/test_pool.py, use the default worker pool.
    os.environ["OPTLAB_JOBS"] = "0"


def pytest_unconfigure(config: pytest.Config) -> None:
    if _DATA_DIR:
        shutil.rmtree(_DATA_DIR, ignore_errors=True)


@pytest.fixture(autouse=True)
def _clear_streamlit_caches():
    """Results cached by one test must not leak into the next."""
    st = sys.modules.get("streamlit")
    if st is not None:
        st.cache_data.clear()
        st.cache_resource.clear()
    yield

"""AppTest fixtures: every test gets its own, empty run store.

(tests/conftest.py already gives each worker a data folder and clears the
Streamlit caches between tests; the Runs page tests also need the store to
start empty.)
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # apptools


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("OPTLAB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("OPTLAB_STORE", raising=False)
    monkeypatch.setenv("OPTLAB_WARM_PAGES", "0")  # no background training between tests
    return tmp_path / "data"

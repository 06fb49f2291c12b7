"""The app's default executor: training in a pool of worker processes, off the server's threads."""

import numpy as np
from apptools import no_exception
from streamlit.testing.v1 import AppTest

from engine import executors


def script():
    import os

    import streamlit as st

    from engine.config import RunConfig
    from ui import cache

    cfg = RunConfig(dataset="iris", hidden=(4,), epochs=3, batch_size=16)
    result = cache.run(cfg)
    st.session_state["executor"] = cache.orchestrator().executor.name
    st.session_state["status"] = result.status
    st.session_state["params"] = result.params.tolist()
    st.session_state["pid"] = os.getpid()


def test_the_app_trains_in_worker_processes_by_default(monkeypatch):
    monkeypatch.delenv("OPTLAB_JOBS", raising=False)
    assert isinstance(executors.from_environment(), executors.ProcessExecutor) or (
        executors.os.cpu_count() == 1)
    at = AppTest.from_function(script, default_timeout=120).run()
    no_exception(at)
    assert at.session_state["status"] == "completed"
    from engine import RunConfig, train

    alone = train(RunConfig(dataset="iris", hidden=(4,), epochs=3, batch_size=16))
    assert np.array_equal(np.asarray(at.session_state["params"]), alone.params)
    if (executors.os.cpu_count() or 1) > 1:
        assert at.session_state["executor"] != "inline"

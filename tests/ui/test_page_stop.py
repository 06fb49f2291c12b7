"""A page that goes away stops its run: the orchestrator's stop check serves Streamlit's requests.

When a tab is closed, Streamlit's session manager calls ``request_script_stop``
on the session (``runtime/websocket_session_manager.disconnect_session``): the
script runner's :class:`ScriptRequests` switch to STOP, and a widget change
switches them to RERUN. Streamlit itself serves the request only when the
script next sends something; the stop check serves it while the script waits
on a training. Here the script's context is a real ``ScriptRequests`` object
and the run is one epoch of minutes.
"""

from __future__ import annotations

import threading
import types

import pytest
from streamlit.runtime.scriptrunner_utils.exceptions import RerunException, StopException
from streamlit.runtime.scriptrunner_utils.script_requests import RerunData, ScriptRequests

from engine import RunConfig
from engine import executors as E
from engine.runs import Orchestrator
from engine.store import RunStore
from ui import cache

pytestmark = pytest.mark.timeout(300)

LONG = RunConfig(dataset="synthetic", dataset_params={"n_samples": 20000}, hidden=(1024, 1024),
                 epochs=1, batch_size=1)


@pytest.fixture
def requests(monkeypatch):
    req = ScriptRequests()
    ctx = types.SimpleNamespace(script_requests=req)
    import streamlit.runtime.scriptrunner as sr

    monkeypatch.setattr(sr, "get_script_run_ctx", lambda suppress_warning=False: ctx)
    return req


def test_no_request_means_go_on(requests):
    assert cache.script_should_stop() is False


def test_outside_a_script_run_the_check_never_stops():
    assert cache.script_should_stop() is False


def test_a_closed_tab_raises_stop_and_a_widget_change_raises_rerun(requests):
    requests.request_rerun(RerunData(query_string="a=1"))
    with pytest.raises(RerunException):
        cache.script_should_stop()
    assert cache.script_should_stop() is False  # the rerun was served once, as Streamlit does
    requests.request_stop()
    with pytest.raises(StopException):
        cache.script_should_stop()


@pytest.mark.parametrize("executor", ["inline", "process"])
def test_a_disconnected_session_stops_its_run_mid_epoch(requests, tmp_path, executor):
    store = RunStore(tmp_path / "runs.sqlite")
    ex = E.InlineExecutor() if executor == "inline" else E.ProcessExecutor(1)
    orch = Orchestrator(store, ex)
    stops = []

    def check():
        stops.append(1)
        if len(stops) == 5:  # the session goes away while its run is in its first epoch
            threading.Thread(target=requests.request_stop).start()
        return cache.script_should_stop()

    try:
        with pytest.raises(StopException):
            orch.run([LONG], should_stop=check)
        assert LONG.key() not in store and orch.lookup(LONG) is None
        assert not orch._inflight  # another session asking for it would train it
        if executor == "process":  # its one worker was freed mid-epoch: a small run gets through
            (r,) = list(ex.run([[RunConfig(dataset="iris", hidden=(4,), epochs=2)]]))
            assert r.status == "completed"
    finally:
        ex.close()

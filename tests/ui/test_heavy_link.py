"""A shared link over the server's work limits is refused before anything trains."""

import pytest
from apptools import no_exception, page, texts

from engine import limits
from engine.config import RunConfig
from ui import sidebar

HEAVY = {"dataset": "moons", "hidden": "4096,4096,4096", "epochs": "1"}


def test_make_config_refuses_a_config_over_the_limits():
    fields = {**sidebar.defaults(), "dataset": "moons", "hidden": (4096, 4096, 4096), "epochs": 1}
    with pytest.raises(ValueError) as e:
        sidebar.make_config(fields)
    with pytest.raises(ValueError) as direct:
        limits.check(RunConfig(dataset="moons", hidden=(4096, 4096, 4096), epochs=1))
    assert str(e.value) == str(direct.value) and "the limit is" in str(e.value)


def test_the_heavy_link_shows_the_refusal_and_trains_nothing(monkeypatch):
    import engine

    def never(*a, **kw):
        raise AssertionError("a refused config was trained")

    monkeypatch.setattr(engine, "train", never)
    monkeypatch.setattr(engine, "train_many", never)
    at = page("train")
    at.query_params = HEAVY
    at.run()
    no_exception(at)
    assert "hidden: 4096,4096,4096 needs about" in texts(at.error)
    assert "the limit is" in texts(at.error)
    assert at.button(key="train_run").disabled

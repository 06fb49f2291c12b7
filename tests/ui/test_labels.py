"""Legend labels name the optimizer and exactly the settings on which the runs differ."""

import pytest

from engine.config import RunConfig
from ui import labels


def cfg(optimizer="sgd", **kw):
    kw = {"dataset": "digits", "hidden": (8,)} | kw
    return RunConfig(optimizer=optimizer, optimizer_params=kw.pop("params", {}), **kw)


def test_sgd_against_sgd_with_momentum_names_momentum_and_only_it():
    got = labels.run_labels([cfg(params={"momentum": 0.9}), cfg()])
    assert got == ["SGD (torch) · momentum 0.9", "SGD (torch) · momentum 0"]


def test_adam_against_adamw_names_the_weight_decay():
    got = labels.run_labels([cfg("adam"), cfg("adamw")])
    assert got == ["Adam · weight_decay 0", "AdamW · weight_decay 0.01"]


def test_a_hyperparameter_only_one_optimizer_has_is_named_only_off_its_default():
    plain = labels.run_labels([cfg("sgd"), cfg("adam")])
    assert plain == ["SGD (torch)", "Adam"]  # momentum, amsgrad… sit at their defaults
    changed = labels.run_labels([cfg("sgd"), cfg("adam", params={"amsgrad": True})])
    assert changed == ["SGD (torch)", "Adam · amsgrad on"]


def test_batch_sizes_and_modes():
    got = labels.run_labels([cfg(batch_size=16), cfg(batch_size=128), cfg(mode="sgd"), cfg(mode="batch")])
    assert got == [
        "SGD (torch) · batch 16",
        "SGD (torch) · batch 128",
        "SGD (torch) · batch 1",
        "SGD (torch) · full batch",
    ]


def test_config_fields_follow_the_hyperparameters_in_field_order():
    got = labels.run_labels(
        [cfg(params={"lr": 0.1}, epochs=5, seed=1), cfg(params={"lr": 0.05}, hidden=(16, 8), seed=2)]
    )
    assert got == [
        "SGD (torch) · lr 0.1 · hidden 8 · epochs 5 · seed 1",
        "SGD (torch) · lr 0.05 · hidden 16-8 · epochs 20 · seed 2",
    ]
    assert labels.differing([cfg(epochs=5), cfg(epochs=6)]) == ["epochs"]


def test_titles_of_datasets_and_schedules():
    got = labels.run_labels([cfg(schedule="cosine"), cfg()])
    assert got[0].startswith("SGD (torch) · schedule ")
    assert "cosine" not in got[0]  # the registry title, not the key
    data = labels.run_labels([cfg(), cfg(dataset="iris")])
    assert [d.split(" · ")[1].split(" ")[0] for d in data] == ["data", "data"]


def test_identical_runs_are_numbered_and_a_single_run_is_its_optimizer():
    assert labels.run_labels([cfg("adam"), cfg("adam")]) == ["Adam", "Adam #2"]
    assert labels.run_labels([cfg("adam", params={"lr": 0.01})]) == ["Adam"]
    assert labels.run_labels([]) == []


def test_optimizer_title_can_be_left_out_when_shared():
    got = labels.run_labels([cfg(batch_size=16), cfg(batch_size=32)], optimizer=False)
    assert got == ["batch 16", "batch 32"]
    mixed = labels.run_labels([cfg("sgd"), cfg("adam")], optimizer=False)
    assert mixed == ["SGD (torch)", "Adam"]  # different optimizers are always named


def test_lookahead_names_its_inner_optimizer():
    got = labels.run_labels([cfg("lookahead"), cfg("lookahead", params={"inner": "sgd"})])
    assert got == ["Lookahead · inner Adam", "Lookahead · inner SGD (torch)"]


@pytest.mark.parametrize(
    "value, text",
    [(0.001, "0.001"), (1e-8, "1e-8"), (0.9, "0.9"), (0.0, "0"), (3e-4, "0.0003"), (1e6, "1e6"),
     (2.5e-5, "2.5e-5"), (12, "12"), (True, "on"), (False, "off"), (None, "none"),
     ((0.9, 0.999), "(0.9, 0.999)"), (0.123456, "0.123")],
)
def test_compact_numbers(value, text):
    assert labels.compact(value) == text

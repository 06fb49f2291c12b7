"""Hyper validation takes exact types: no bool for a number, no text for a number,
no 0/1 for a flag, no non-finite floats; whole floats are whole numbers.

Every refusal is a ValueError that names the field and what is allowed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.optim import create
from engine.spec import Hyper

LR = Hyper("lr", 0.1, 0.0, 10.0)
STEPS = Hyper("steps", 10, 1, 1000, kind="int")
OPEN = Hyper("rate", 0.5, 0.0, 1.0, low_open=True, high_open=True)
FLAG = Hyper("amsgrad", False, kind="bool")
CHOICE = Hyper("mode", "min", kind="choice", choices=("min", "max", None))
INTS = Hyper("k", 1, kind="choice", choices=(1, 2, 3))
PAIR = Hyper("betas", (0.9, 0.999), low=(0.0, 0.0), high=(1.0, 1.0), high_open=True, kind="pair")
UNBOUNDED = Hyper("x", 0.0)


def refused(hyper, value, *words):
    with pytest.raises(ValueError) as err:
        hyper.validate(value, f"params.{hyper.name}")
    msg = str(err.value)
    assert msg.startswith(f"params.{hyper.name}"), msg
    assert "allowed:" in msg, msg
    for w in words:
        assert w in msg, msg
    return msg


@pytest.mark.parametrize("value", [True, False, np.bool_(True)])
def test_a_bool_is_not_a_number(value):
    refused(LR, value, "is not a number", "a number in [0, 10]")
    refused(STEPS, value, "is not a number", "a whole number in [1, 1000]")


@pytest.mark.parametrize("value", ["0.1", "1", "", None, [0.1], {"v": 1}, b"1", 1j])
def test_text_and_containers_are_not_numbers(value):
    refused(LR, value, "is not a number")
    refused(STEPS, value, "is not a number")


def test_numbers_of_the_right_kind_pass_and_take_the_hyper_type():
    assert LR.validate(1) == 1.0 and type(LR.validate(1)) is float
    assert LR.validate(np.float32(0.5)) == 0.5 and type(LR.validate(np.float32(0.5))) is float
    assert STEPS.validate(20) == 20
    assert STEPS.validate(np.int64(7)) == 7 and type(STEPS.validate(np.int64(7))) is int


def test_whole_floats_are_whole_numbers_and_fractions_are_refused():
    v = STEPS.validate(20.0)
    assert v == 20 and type(v) is int
    msg = refused(STEPS, 20.5, "20.5 is not a whole number", "a whole number in [1, 1000]")
    assert "out of range" not in msg


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan, np.float64("inf")])
@pytest.mark.parametrize("hyper", [LR, STEPS, UNBOUNDED])
def test_non_finite_floats_are_refused(hyper, value):
    refused(hyper, value, "is not a finite number")


def test_huge_whole_numbers_are_out_of_range_with_a_short_message():
    msg = refused(STEPS, 10**400, "out of range")
    assert len(msg) < 200
    msg = refused(LR, 10**400, "too large")
    assert len(msg) < 200


def test_range_ends_still_apply():
    refused(LR, -0.1, "-0.1 is out of range", "a number in [0, 10]")
    refused(OPEN, 0.0, "out of range", "(0, 1)")
    refused(OPEN, 1, "out of range")
    assert OPEN.validate(0.25) == 0.25


@pytest.mark.parametrize("value", [0, 1, 1.0, "true", "false", None, np.int64(1)])
def test_a_flag_is_only_true_or_false(value):
    refused(FLAG, value, "allowed: true or false")


def test_flags_pass():
    assert FLAG.validate(True) is True
    assert FLAG.validate(np.bool_(False)) is False


def test_choices_match_type_and_value():
    assert CHOICE.validate("max") == "max"
    assert CHOICE.validate(None) is None
    refused(CHOICE, "MAX", "one of 'min', 'max', None")
    refused(CHOICE, ["min"], "one of")
    assert INTS.validate(2) == 2
    refused(INTS, True, "one of 1, 2, 3")     # True == 1 in Python, but it is not a choice here
    refused(INTS, 2.0, "one of 1, 2, 3")


def test_long_rejected_values_are_cut_short():
    msg = refused(CHOICE, "x" * 100_000, "one of")
    assert len(msg) < 200


def test_pairs_check_each_element_strictly():
    assert PAIR.validate([0.5, 0.9]) == (0.5, 0.9)
    refused(PAIR, ["0.5", 0.9], "betas[0]", "is not a number")
    refused(PAIR, (0.5, math.inf), "betas[1]", "not a finite number")
    refused(PAIR, (True, 0.9), "betas[0]", "is not a number")


@pytest.mark.parametrize("hp, field, words", [
    ({"lr": "0.1"}, "optimizer_params.lr", ["'0.1' is not a number"]),
    ({"lr": True}, "optimizer_params.lr", ["True is not a number"]),
    ({"lr": math.inf}, "optimizer_params.lr", ["inf is not a finite number"]),
    ({"amsgrad": 1}, "optimizer_params.amsgrad", ["true or false"]),
])
def test_optimizer_construction_refuses_loose_types(hp, field, words):
    with pytest.raises(ValueError) as err:
        create("adam", **hp)
    msg = str(err.value)
    assert msg.startswith(field + ":"), msg
    for w in words:
        assert w in msg, msg

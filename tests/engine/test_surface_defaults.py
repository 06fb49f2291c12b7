"""Each surface's learning rates: its classic optimizers stay in the window and make visible progress."""

import numpy as np
import pytest

from engine import optim, surfaces
from engine.minimize import minimize

CASES = [(s, o) for s, spec in surfaces.REGISTRY.items() for o in spec.extra.get("lrs", {})]


def test_every_surface_names_a_rate_for_the_classic_optimizers():
    for name, spec in surfaces.REGISTRY.items():
        lrs = spec.extra.get("lrs", {})
        if not lrs:
            continue
        assert {"gd", "momentum", "nesterov", "adam"} <= set(lrs), name
        for opt, lr in lrs.items():
            optim.REGISTRY[opt].hyper("lr").validate(lr)  # within the optimizer's allowed range


@pytest.mark.parametrize("surface, opt", CASES)
def test_the_path_stays_in_the_window_and_heads_for_a_minimum_or_the_saddle(surface, opt):
    ex = surfaces.REGISTRY[surface].extra
    traj = minimize(surface, opt, None, ex["steps"], lr=ex["lrs"][opt])
    lo = np.array([b[0] for b in ex["bounds"]])
    hi = np.array([b[1] for b in ex["bounds"]])
    assert np.isfinite(traj).all()
    assert ((traj >= lo) & (traj <= hi)).all()
    f = np.asarray(ex["f_grid"](*traj.T), float)
    if ex["minima"]:
        # at least a 40 % smaller gap to the minimum value after the default number of steps
        assert f[-1] - ex["f_min"] <= 0.6 * (f[0] - ex["f_min"])
    else:
        start = np.linalg.norm(traj[0] - np.array(ex["saddles"][0]))
        closest = np.linalg.norm(traj - np.array(ex["saddles"][0]), axis=1).min()
        assert closest < start  # it approaches the saddle before escaping

"""Legend labels that name what differs between the runs on screen.

``run_labels(configs)`` gives each run a short label: its optimizer's title,
then every optimizer hyperparameter and every config field on which the runs
do not all agree, e.g. ``SGD (torch) · momentum 0.9`` against
``SGD (torch) · momentum 0``, or ``Adam · weight_decay 0`` against
``AdamW · weight_decay 0.01``. A hyperparameter that only some of the runs'
optimizers have (Adam's ``amsgrad`` next to SGD) is named only when it does
not sit at its registry default, so a label never lists settings that nobody
changed. Pure functions of ``engine.config.RunConfig`` objects (anything with
``to_dict()``), no Streamlit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from engine import data, optim, schedules

SEP = " · "

# Display names of config fields; fields not listed show their own name.
FIELD_NAMES = {
    "batch": "batch",
    "dataset": "data",
    "hidden": "hidden",
    "schedule": "schedule",
    "clip_norm": "clip norm",
    "clip_value": "clip value",
    "early_stopping": "early stopping",
    "val_fraction": "val fraction",
    "test_fraction": "test fraction",
    "max_updates": "max updates",
    "restore_best": "restore best",
    "min_delta": "min Δ",
    "eval_every": "eval every",
}
# Fields that only say how a run is stored or shown, never how it trains differently.
_SKIP = {"optimizer", "optimizer_params", "mode", "batch_size"}
_ABSENT = object()


def compact(value: Any) -> str:
    """A number or setting in few characters: ``0.001``, ``1e-8``, ``0.9``, ``64-32``, ``on``."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if value is None:
        return "none"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        if value.is_integer() and abs(value) < 1e5:
            return str(int(value))
        text = f"{value:.3g}"
        if "e" in text:
            mant, exp = text.split("e")
            text = f"{mant}e{int(exp)}"
        return text
    if isinstance(value, list | tuple):
        return "(" + ", ".join(compact(v) for v in value) + ")"
    return str(value)


def _optimizer_facets(name: str, params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{display name: value}`` of an optimizer's resolved hyperparameters, in spec order."""
    spec = optim.REGISTRY[name]
    out: dict[str, Any] = {}
    for h in spec.hypers:
        if h.name not in params:
            continue
        value = params[h.name]
        if h.kind == "params":
            inner = params.get("inner")
            if isinstance(inner, str) and inner in optim.REGISTRY and isinstance(value, Mapping):
                out.update(_optimizer_facets(inner, value, prefix=f"{prefix}{inner} "))
            continue
        if h.kind == "optimizer" and isinstance(value, str) and value in optim.REGISTRY:
            value = optim.REGISTRY[value].title
        out[prefix + h.title] = value
    return out


def _defaults(name: str, prefix: str = "", inner: str | None = None) -> dict[str, Any]:
    spec = optim.REGISTRY[name]
    out: dict[str, Any] = {}
    for h in spec.hypers:
        if h.kind == "params":
            if inner in optim.REGISTRY:
                out.update(_defaults(inner, prefix=f"{prefix}{inner} "))
            continue
        out[prefix + h.title] = h.default
    return out


def _batch(d: Mapping[str, Any]) -> str:
    if d.get("mode") == "batch":
        return "full"
    if d.get("mode") == "sgd":
        return "1"
    return compact(d.get("batch_size"))


def _field_value(name: str, value: Any) -> Any:
    if name == "dataset" and value in data.REGISTRY:
        return data.REGISTRY[value].title
    if name == "schedule" and value in schedules.REGISTRY:
        return schedules.REGISTRY[value].title
    if name == "hidden":
        return "-".join(str(w) for w in value) if value else "none"
    return value


def _config_facets(d: Mapping[str, Any]) -> dict[str, Any]:
    """``{display name: value}`` of the config fields other than the optimizer's."""
    out: dict[str, Any] = {"batch": _batch(d)}
    for name, value in d.items():
        if name in _SKIP:
            continue
        if isinstance(value, Mapping):  # dataset_params, schedule_params, init_params
            for k, v in value.items():
                out[k] = v
            continue
        out[FIELD_NAMES.get(name, name)] = _field_value(name, value)
    return out


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, bool) or isinstance(b, bool):  # True == 1, but "on" is not 1
        return type(a) is type(b) and a == b
    return a == b


def _varying(values: Sequence[Any], defaults: Sequence[Any]) -> bool:
    """Do runs disagree on a facet? A run without it disagrees only with non-default values."""
    present = [v for v in values if v is not _ABSENT]
    if any(not _same(v, present[0]) for v in present[1:]):
        return True
    if len(present) == len(values):
        return False
    return any(
        v is not _ABSENT and (d is _ABSENT or not _same(v, d))
        for v, d in zip(values, defaults, strict=True)
    )


def facets(config: Any) -> tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A run's optimizer title, its hyperparameters, their defaults and its other fields."""
    d = config.to_dict()
    name = d["optimizer"]
    params = dict(config.optimizer_params)
    hp = _optimizer_facets(name, params)
    defaults = _defaults(name, inner=params.get("inner"))
    return optim.REGISTRY[name].title, hp, defaults, _config_facets(d)


def differing(configs: Sequence[Any]) -> list[str]:
    """Display names of the hyperparameters and fields on which the runs disagree, in order."""
    parts = [facets(c) for c in configs]
    names: list[str] = []
    for which in (1, 3):
        for p in parts:
            for k in p[which]:
                if k not in names:
                    names.append(k)
    out = []
    for k in names:
        values = [p[1].get(k, p[3].get(k, _ABSENT)) for p in parts]
        defaults = [p[2].get(k, _ABSENT) for p in parts]
        if _varying(values, defaults):
            out.append(k)
    return out


def run_labels(configs: Sequence[Any], optimizer: bool = True) -> list[str]:
    """One label per config naming its optimizer and everything that differs between them.

    ``optimizer=False`` leaves the optimizer's title out when every run has
    the same optimizer (e.g. a legend whose title already names it). Runs
    whose configs agree completely are numbered ``#2``, ``#3``… so no two
    labels are alike.
    """
    parts = [facets(c) for c in configs]
    keys = differing(configs)
    titles = [p[0] for p in parts]
    show_title = optimizer or len(set(titles)) > 1
    labels = []
    for title, hp, _, fields in parts:
        bits = [title] if show_title else []
        for k in keys:
            if k in hp:
                bits.append(f"{k} {compact(hp[k])}")
            elif k == "batch" and fields[k] == "full":
                bits.append("full batch")
            elif k in fields:
                bits.append(f"{k} {compact(fields[k])}")
        labels.append(SEP.join(bits) or title)
    seen: dict[str, int] = {}
    out = []
    for lab in labels:
        seen[lab] = seen.get(lab, 0) + 1
        out.append(lab if seen[lab] == 1 else f"{lab} #{seen[lab]}")
    return out

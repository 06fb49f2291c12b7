"""Widgets rendered from registry specs, bound to the URL.

``hyper_widget`` draws one :class:`engine.spec.Hyper`; ``spec_params`` draws
every hyperparameter of a spec and returns the dict. Nothing here names a
particular optimizer, dataset or schedule: adding one to its registry needs
no change to the UI.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import streamlit as st

from engine.spec import Hyper, Registry, Spec
from ui import state


# -- number grids ----------------------------------------------------------
def log_grid(low: float | None, high: float | None, *keep: float) -> list[float]:
    """A 1-2-5 grid per decade from ``low`` to ``high``, plus the ``keep`` values.

    An open or zero lower end starts the grid three decades below the
    smallest positive value to keep.
    """
    positive = [k for k in keep if k is not None and k > 0]
    lo = low if low and low > 0 else min(positive or [1e-3]) / 1e3
    hi = high if high is not None else max(positive or [1.0]) * 1e3
    grid: set[float] = {float(k) for k in keep if k is not None and lo <= k <= hi}
    for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1):
        for m in (1, 2, 5):
            v = float(f"{m}e{e}")
            if lo <= v <= hi:
                grid.add(v)
    if 0.0 in keep and (low == 0):
        grid.add(0.0)
    return sorted(grid)


def _nice_step(span: float) -> float:
    raw = span / 100
    e = math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if m * 10**e >= raw:
            return float(f"{m}e{e}")
    return raw


def fmt(v: Any) -> str:
    if v is None:
        return "none"
    if isinstance(v, bool):
        return "on" if v else "off"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


# -- URL text of a hyper ---------------------------------------------------
def hyper_parser(hyper: Hyper):
    """Parse a hyper's URL text, validating it with the spec's own rules."""

    def parse(raw: str) -> Any:
        if hyper.kind == "bool":
            return state.parse_bool(raw)
        if hyper.kind == "choice":
            return state.parse_choice(raw, hyper.choices)
        if hyper.kind == "widths":
            parts = [p.strip() for p in raw.replace(";", ",").split(",") if p.strip()]
            try:
                widths = tuple(int(p) for p in parts)
            except ValueError:
                raise ValueError(f"allowed: {hyper.allowed()}") from None
            return hyper.validate(widths, hyper.name)
        if hyper.kind == "pair":
            parts = raw.split(",")
            if len(parts) != 2:
                raise ValueError("expected two numbers separated by a comma")
            value: Any = tuple(float(p) for p in parts)
        elif hyper.kind == "int":
            value = state.parse_int(raw)
        elif hyper.kind == "float":
            value = state.parse_float(raw)
        else:
            value = raw
        return hyper.validate(value, hyper.name)

    return parse


# -- one hyperparameter ----------------------------------------------------
def hyper_widget(
    hyper: Hyper, key: str, default: Any = None, *, exclude: Sequence[str] = ()
) -> Any:
    """Draw ``hyper`` as a widget with key ``key``; return its value.

    float: a number input taking any typed value when ``hyper.log`` (arrows step
    by a tenth of the value's decade), a slider on a bounded linear range, else a
    number input; int: a number input; bool: a toggle;
    choice: a selectbox; pair: two number inputs; optimizer: a selectbox over
    the optimizer registry (``exclude`` leaves names out). A number input has no
    bounds of its own: a number outside the hyper's range shows a message naming
    the field and its range, and the last allowed value stays in use
    (:func:`in_range`).
    """
    default = hyper.default if default is None else default
    label, help_ = hyper.title, hyper.help or None
    parse = hyper_parser(hyper)
    kind = hyper.kind
    if kind == "pair":
        return _pair_widget(hyper, key, default, parse)
    if kind == "optimizer":
        from engine import optim

        names = [n for n in optim.REGISTRY if n not in exclude]
        return state.bind(
            st.selectbox,
            key,
            default,
            lambda raw: state.parse_choice(raw, names),
            label,
            names,
            format_func=lambda n: optim.REGISTRY[n].title,
            help=help_,
        )
    if kind == "bool":
        return state.bind(st.toggle, key, bool(default), parse, label, help=help_)
    if kind == "str":
        return state.bind(st.text_input, key, str(default), parse, label, help=help_)
    if kind == "choice":
        if hyper.titles:  # a few named choices: all visible at once
            return state.bind(
                st.radio, key, default, parse, label, list(hyper.choices),
                format_func=hyper.title_of, horizontal=len(hyper.choices) == 2, help=help_,
            )
        return state.bind(
            st.selectbox, key, default, parse, label, list(hyper.choices), format_func=fmt, help=help_,
        )
    if kind == "int":
        # no bounds on the widget: a typed number out of range gets a message, not a silent no-op
        value = state.bind(
            st.number_input, key, int(default), parse, label, step=1, help=help_,
        )
        return in_range(hyper, key, value, int(default))
    # float
    default = float(default)
    if hyper.log:
        # any value can be typed (0.03, 3e-4); the arrows step by a tenth of the value's decade
        value = state.bind(
            st.number_input, key, default, parse, label, step=log_step(default), format="%g",
            help=help_,
        )
        return in_range(hyper, key, value, default)
    if hyper.low is not None and hyper.high is not None and hyper.high - hyper.low <= 10:
        step = _nice_step(hyper.high - hyper.low)
        lo = hyper.low + step if hyper.low_open else hyper.low
        hi = hyper.high - step if hyper.high_open else hyper.high
        if abs(default / step - round(default / step)) < 1e-9:
            return state.bind(
                st.slider,
                key,
                default,
                parse,
                label,
                min_value=float(lo),
                max_value=float(hi),
                step=step,
                help=help_,
                fix=clamp(lo, hi),
            )
    value = state.bind(st.number_input, key, default, parse, label, format="%g", help=help_)
    return in_range(hyper, key, value, default)


def log_step(v: float) -> float:
    """A tenth of ``v``'s decade (0.001 for 0.03): the arrows of a log-scale number input."""
    if not (isinstance(v, int | float) and math.isfinite(v) and v > 0):
        return 0.001
    return float(f"1e{math.floor(math.log10(v)) - 1}")


def in_range(hyper: Hyper, key: str, value: Any, default: Any) -> Any:
    """``value`` if ``hyper`` allows it; else a message naming the field and its range, and
    the last allowed value (which the page then uses, and says so)."""
    ss = st.session_state
    last = f"_in_range_{key}"
    try:
        hyper.validate(value, hyper.name)
    except (ValueError, TypeError):
        keep = ss.get(last, default)
        st.error(
            f"**{hyper.title}**: {fmt(value)} is not allowed ({hyper.allowed()}); "
            f"{fmt(keep)} is used until you enter a value in range.",
            icon=":material/error:",
        )
        state.remember(key, keep, default)
        return keep
    ss[last] = value
    return value


def hidden_name(key: str) -> bool:
    return state.hidden(state.name_of(key))


def clamp(lo: Any, hi: Any):
    """Keep a starting value inside a number widget's bounds (Streamlit rejects others)."""

    def fix(v: Any) -> Any:
        if lo is not None and v < lo:
            return lo
        if hi is not None and v > hi:
            return hi
        return v

    return fix


def _pair_widget(hyper: Hyper, key: str, default: Any, parse) -> tuple[float, float]:
    ss = st.session_state
    keys = (f"{key}.0", f"{key}.1")
    if all(k in ss for k in keys):
        value = (ss[keys[0]], ss[keys[1]])
    else:
        value = tuple(state.initial(key, tuple(default), parse))
    if hidden_name(key):
        state.remember(key, value, tuple(default))
        return value
    cols = st.columns(2)
    out = []
    for i, (col, k) in enumerate(zip(cols, keys, strict=True)):
        lo, hi = hyper._bounds(i)
        ss[k] = float(value[i])
        with col:
            out.append(
                st.number_input(
                    f"{hyper.title}[{i}]",
                    min_value=None if lo is None else float(lo),
                    max_value=None if hi is None else float(hi),
                    step=0.001,
                    format="%g",
                    key=k,
                    help=hyper.help or None,
                )
            )
    value = (float(out[0]), float(out[1]))
    state.remember(key, value, tuple(default))
    return value


# -- a whole spec -----------------------------------------------------------
def spec_params(
    spec: Spec, key_prefix: str, defaults: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Draw every hyperparameter of ``spec`` (keys ``<key_prefix>.<hyper>``).

    A ``params`` hyper draws the hyperparameters of the optimizer chosen by
    the spec's ``optimizer`` hyper, in a nested block.
    """
    from engine import optim

    defaults = dict(defaults or {})
    out: dict[str, Any] = {}
    chosen_inner = None
    for h in spec.hypers:
        if h.kind == "params":
            continue
        exclude = (
            [spec.name]
            + [n for n, s in optim.REGISTRY.items() if any(x.kind == "optimizer" for x in s.hypers)]
            if h.kind == "optimizer"
            else ()
        )
        out[h.name] = hyper_widget(
            h, f"{key_prefix}.{h.name}", defaults.get(h.name), exclude=exclude
        )
        if h.kind == "optimizer":
            chosen_inner = out[h.name]
    for h in spec.hypers:
        if h.kind != "params" or chosen_inner is None:
            continue
        inner = optim.REGISTRY[chosen_inner]
        with st.container(border=True):
            st.caption(f"{h.title}: {inner.title}")
            out[h.name] = spec_params(
                inner, f"{key_prefix}.{h.name}.{chosen_inner}", defaults.get(h.name)
            )
    return out


def choose(
    registry: Registry,
    key: str,
    label: str,
    default: str,
    options: Sequence[str] | None = None,
    help: str | None = None,
) -> str:
    """A selectbox over a registry's entries (by title), with the entry's help below."""
    names = list(options if options is not None else registry)
    if default not in names:
        default = names[0]
    name = state.bind(
        st.selectbox,
        key,
        default,
        lambda raw: state.parse_choice(raw, names),
        label,
        names,
        format_func=lambda n: registry[n].title,
        help=help,
    )
    if not hidden_name(key) and registry[name].help:
        st.caption(registry[name].help)
    return name

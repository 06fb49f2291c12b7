"""The shared sidebar, drawn from the config fields' declarations.

Every :class:`engine.config.RunConfig` field is declared once, with its spec
(:data:`engine.config.FIELDS`): kind, default, range or choices, URL name,
sidebar group and help. :func:`render` draws the chosen groups of fields in
declaration order, one widget per field (keys ``<page>_<url name>``), bound
to the URL; :func:`config_query` writes a config back as those URL
parameters. Adding a config field adds its widget, URL parameter and
``&hide=`` group here with no change to this module.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import streamlit as st

from engine import data, limits, optim
from engine.config import FIELD, FIELDS, RunConfig
from engine.spec import Hyper
from ui import state
from ui.widgets import choose, fmt, hyper_parser, hyper_widget, spec_params

GROUP_TITLES = {
    "data": "Data",
    "model": "Model",
    "optimizer": "Optimizer",
    "mode": "Mode",
    "budget": "Budget",
    "advanced": "Schedule, stopping and clipping",
}
ALL_GROUPS = tuple(GROUP_TITLES)
IN_EXPANDER = {"advanced"}
ERRORS = "_errors"  # problems a widget found (keys starting with it), reported by make_config

# Learning rates at which each optimizer learns the pages' default tasks (digits, moons)
# within their default epochs; the registry keeps torch's defaults. Pages that start from
# these say so under the optimizer.
STARTING_LR = {
    "sgd": 0.05, "gd": 0.05, "momentum": 0.05, "nesterov": 0.05, "adagrad": 0.01, "nadam": 0.002,
    "adam": 0.001, "adamw": 0.001, "rmsprop": 0.001,
}


def starting_params(optimizer: str) -> dict[str, Any]:
    """The hyperparameters a page starts ``optimizer`` from: its defaults, at a working lr."""
    lr = STARTING_LR.get(optimizer)
    return {} if lr is None else {"lr": lr}


def make_config(fields: Mapping[str, Any], **changes: Any) -> RunConfig:
    """The RunConfig of sidebar fields; a ValueError names the field at fault.

    A config over the server's work limits (:func:`engine.limits.check`:
    memory, arithmetic, updates, stored size) is refused here, before any
    training, with the field, the estimate and the limit: sidebar values and
    shared links (``?hidden=4096,4096,4096``) both come through here.
    """
    fields = {**fields, **changes}
    errors = [e for k in [k for k in fields if k.startswith(ERRORS)] for e in fields.pop(k)]
    if errors:
        raise ValueError(errors[0])
    config = RunConfig(**fields)
    limits.check(config)
    return config


def defaults(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Every field's declared default, overridden by a page's own starting point."""
    return {**{h.name: h.default for h in FIELDS}, **(overrides or {})}


@contextlib.contextmanager
def section(title: str, expander: bool = False) -> Iterator[None]:
    """A titled group of controls (a subheader, or an expander).

    The title is drawn only when the group shows a control: a group whose
    every control ``?hide=`` hides leaves no empty heading behind.
    """
    slot = st.empty()
    before = state.drawn()
    if expander:
        with slot.expander(title):
            yield
        if state.drawn() == before:
            slot.empty()
    else:
        yield
        if state.drawn() > before:
            slot.subheader(title)


# -- the sidebar ----------------------------------------------------------------------
def render(
    page: str,
    groups: Sequence[str] = ALL_GROUPS,
    start: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Draw the fields of ``groups`` in the sidebar; return their values by field name.

    ``start`` is the page's starting point (field values that differ from the
    declared defaults). Fields of other groups keep their starting values.
    """
    values = defaults(start)
    first = dict(values)
    with st.sidebar:
        for group in groups:
            fields = [h for h in FIELDS if h.group == group]
            with section(GROUP_TITLES[group], expander=group in IN_EXPANDER):
                _draw_group(page, fields, values, first)
    return values


def _draw_group(page: str, fields: list[Hyper], values: dict[str, Any], first: dict[str, Any]) -> None:
    pending: list[Hyper] = []  # short number fields, drawn two per row

    def flush() -> None:
        if not pending:
            return
        cols = st.columns(2) if len(pending) > 1 else [st.container()]
        for i, h in enumerate(pending):
            with cols[i % len(cols)]:
                values[h.name] = field_widget(page, h, values, first)
        pending.clear()

    for h in fields:
        if not h.matters(values):
            continue
        if h.kind in ("int", "float") and not h.log:
            pending.append(h)
            if len(pending) == 2:
                flush()
            continue
        flush()
        values[h.name] = field_widget(page, h, values, first)
    flush()


def field_widget(page: str, h: Hyper, values: dict[str, Any], first: Mapping[str, Any]) -> Any:
    """One config field's widget (key ``<page>_<url name>``); returns its value.

    ``first`` is the page's starting point: a ``params`` field starts from it
    while its entry is the starting one (Adam at the page's learning rate).
    """
    key = f"{page}_{h.query}"
    default = values[h.name]
    if h.kind == "entry":
        return choose(h.registry, key, h.title, default, help=h.help)
    if h.kind == "params":
        entry = values[h.of]
        if h.of == "dataset" and entry == "csv":
            return _csv_upload(page, values)
        spec = FIELD[h.of].registry[entry]
        start = dict(first[h.name]) if entry == first[h.of] else {}
        if h.of == "optimizer":
            start = {**starting_params(entry), **start}
            _start_note(entry, start)
        return spec_params(spec, f"{key}.{entry}", start)
    if h.kind == "widths":
        return _widths(key, h, default, values)
    if h.name == "mode":
        return _mode(key, h, default, values)
    if h.name == "batch_size":
        hi = n_train(values) or 100_000
        return hyper_widget(dataclasses.replace(h, high=hi), key, min(int(default), hi))
    return hyper_widget(h, key, default)


def _start_note(optimizer: str, start: Mapping[str, Any]) -> None:
    """Say visibly where a page's starting point differs from the registry's defaults."""
    spec = optim.REGISTRY[optimizer]
    changed = [
        f"{name} {fmt(v)} (default {fmt(spec.hyper(name).default)})"
        for name, v in start.items()
        if name in spec.defaults() and v != spec.hyper(name).default
    ]
    if changed and not state.hidden("opt"):
        st.caption("This page starts it at " + ", ".join(changed) + ".")


def _widths(key: str, h: Hyper, default: tuple[int, ...], values: dict[str, Any]) -> tuple[int, ...]:
    parse = hyper_parser(h)
    text = state.bind(
        st.text_input, key, widths_text(default), lambda raw: widths_text(parse(raw)), h.title,
        help=h.help,
    )
    try:
        return parse(text)
    except ValueError as e:
        values[f"{ERRORS}_{h.name}"] = [str(e)]
        return tuple(default)


def widths_text(widths: Sequence[int]) -> str:
    return ", ".join(str(w) for w in widths)


def _mode(key: str, h: Hyper, default: str, values: dict[str, Any]) -> str:
    optimizer = values.get("optimizer")
    spec = optim.REGISTRY[optimizer] if optimizer in optim.REGISTRY else None
    if spec is not None and spec.extra.get("full_batch_only"):
        if not state.hidden(h.query):
            state.mark_drawn()
            st.caption(
                f"{spec.title} needs the whole training set for every step, so the mode is "
                "**Full batch**."
            )
        return "batch"
    return hyper_widget(h, key, default)


def _csv_upload(page: str, values: dict[str, Any]) -> dict[str, Any]:
    """Upload a CSV; the engine checks it, stores it and returns the dataset's params.

    The params (the file's hash, target, rows, task) go to the URL like any
    other control, so a shared link reopens the same uploaded table.
    """
    spec = data.REGISTRY["csv"]
    keys = {h.name: f"{page}_data.csv.{h.name}" for h in spec.hypers}
    ss = st.session_state
    params = {h.name: state.initial(keys[h.name], h.default, hyper_parser(h)) for h in spec.hypers}
    state.mark_drawn()
    file = st.file_uploader(
        "CSV file", type=["csv"], key=f"{page}_csv_file",
        help="Numeric feature columns and one target column (at most 5 MB).",
    )
    target = st.text_input(
        "Target column", key=f"{page}_csv_target", help="The column to predict; empty: the last column."
    )
    tasks = list(spec.hyper("task").choices)
    task = st.selectbox("Task", tasks, key=f"{page}_csv_task", help=spec.hyper("task").help)
    error = None
    if file is not None:
        done = ss.get(f"{page}_csv_done")  # (upload, target, task) -> params or error
        if done is None or done[0] != (file.file_id, target, task):
            try:
                done = (
                    (file.file_id, target, task),
                    data.store_csv(file.getvalue(), target.strip() or None, task=task),
                    None,
                )
            except ValueError as e:
                done = ((file.file_id, target, task), None, f"CSV upload: {e}")
            ss[f"{page}_csv_done"] = done
        error = done[2]
        if done[1] is not None:
            params = done[1]
    if error:
        st.error(state.plain(error, 400), icon=":material/error:")
    elif params.get("sha256"):
        st.caption(f"{params['n_rows']} rows; target column: {state.plain(params['target'])}.")
    else:
        st.info("Upload a CSV file to train on it.", icon=":material/upload:")
        error = "dataset: upload a CSV file first (sidebar → Data)"
    for h in spec.hypers:
        ss[keys[h.name]] = params[h.name]  # kept for the next rerun, like a widget's value
        state.remember(keys[h.name], params[h.name], h.default)
    values[f"{ERRORS}_data"] = [error] if error else []
    return dict(params)


def n_train(fields: Mapping[str, Any]) -> int | None:
    """Size of the training split for these data fields (None if not known yet)."""
    try:
        spec = data.REGISTRY[fields["dataset"]]
        return int(
            data.split_sizes(
                spec,
                spec.resolve(fields.get("dataset_params"), "dataset_params"),
                fields.get("val_fraction", 0.2),
                fields.get("test_fraction", 0.2),
            )[0]
        )
    except (ValueError, KeyError, TypeError):
        return None


# -- a config as URL parameters ---------------------------------------------------------
def spec_query(prefix: str, params: Mapping[str, Any], spec, out: dict[str, str]) -> None:
    """Add the query parameters ``<prefix>.<hyper>`` of a spec's ``params`` to ``out``."""
    for h in spec.hypers:
        if h.name not in params:
            continue
        v = params[h.name]
        if h.kind == "params":
            inner = params.get(next(x.name for x in spec.hypers if x.kind == "optimizer"))
            spec_query(f"{prefix}.{h.name}.{inner}", v, optim.REGISTRY[inner], out)
        else:
            out[f"{prefix}.{h.name}"] = state.dump(v)


def config_query(config: RunConfig, groups: Sequence[str] = ALL_GROUPS) -> dict[str, str]:
    """Query parameters that make a page with these sidebar ``groups`` show ``config``.

    Every field that matters is written out, so the page's own starting point
    does not matter.
    """
    values = {h.name: getattr(config, h.name) for h in FIELDS}
    out: dict[str, str] = {}
    for h in FIELDS:
        if h.group not in groups or not h.matters(values):
            continue
        v = values[h.name]
        if h.kind == "params":
            spec_query(f"{h.query}.{values[h.of]}", v, FIELD[h.of].registry[values[h.of]], out)
        elif h.kind == "widths":
            out[h.query] = widths_text(v)
        else:
            out[h.query] = state.dump(v)
    return out

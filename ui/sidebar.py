"""The shared sidebar: data, model, optimizer, training mode and budget.

Each function draws one group of controls with keys ``<page>_<name>`` and
returns the matching :class:`engine.RunConfig` fields. Pages assemble the
fields into a config and show any ``ValueError`` it raises.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import streamlit as st

from engine import data, nn, optim, schedules
from ui import state
from ui.widgets import choose, clamp, hidden_name, spec_params
from ui.widgets import hyper_parser as widgets_parser

MODE_TITLES = {
    "batch": "Full batch",
    "sgd": "One sample per update",
    "minibatch": "Mini-batch",
}
MODE_HELP = (
    "How many training samples each update sees. Full batch: the whole training split "
    "(one update per epoch). One sample per update: batch size 1 (many noisy updates). "
    "Mini-batch: a batch of the size below. This is independent of the optimizer."
)
SAMPLING_TITLES = {
    "shuffle": "Shuffle every epoch",
    "replacement": "Draw with replacement",
}
MAX_EPOCHS = 500
ERRORS = "_errors"  # problems a widget found (keys starting with it), reported by make_config


def make_config(fields: Mapping[str, Any], **changes: Any):
    """The RunConfig of sidebar fields; a ValueError names the field at fault."""
    from engine.config import RunConfig

    fields = {**fields, **changes}
    errors = [e for k in [k for k in fields if k.startswith(ERRORS)] for e in fields.pop(k)]
    if errors:
        raise ValueError(errors[0])
    return RunConfig(**fields)


def _defaults(defaults: Mapping[str, Any] | None) -> dict[str, Any]:
    """RunConfig's defaults, overridden by a page's own."""
    import dataclasses

    from engine.config import RunConfig

    base = {
        f.name: f.default
        for f in dataclasses.fields(RunConfig)
        if f.default is not dataclasses.MISSING
    }
    base.update(defaults or {})
    return base


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


# -- hidden layers as text ----------------------------------------------------
def parse_hidden(raw: str) -> tuple[int, ...]:
    """``"64, 32"`` -> ``(64, 32)``; empty -> ``()`` (a linear model)."""
    parts = [p.strip() for p in raw.replace(";", ",").split(",") if p.strip()]
    try:
        widths = tuple(int(p) for p in parts)
    except ValueError:
        raise ValueError(
            "hidden: write whole-number widths separated by commas, e.g. 64, 32"
        ) from None
    if any(w < 1 or w > 4096 for w in widths) or len(widths) > 16:
        raise ValueError("hidden: at most 16 layers, each 1 to 4096 units wide")
    return widths


def hidden_text(widths: tuple[int, ...]) -> str:
    return ", ".join(str(w) for w in widths)


# -- groups ------------------------------------------------------------------
def data_section(page: str, defaults: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Dataset, its hyperparameters, and an optional CSV upload."""
    d = _defaults(defaults)
    with section("Data"):
        name = choose(
            data.REGISTRY, f"{page}_dataset", "Dataset", d["dataset"], help="The learning task."
        )
        spec = data.REGISTRY[name]
        if name == "csv":
            return {"dataset": name, **_csv_upload(page, spec)}
        params = spec_params(spec, f"{page}_data.{name}", d.get("dataset_params"))
    return {"dataset": name, "dataset_params": params}


def _csv_upload(page: str, spec) -> dict[str, Any]:
    """Upload a CSV; the engine checks it, stores it and returns the dataset's params.

    The params (the file's hash, target, rows, task) go to the URL like any
    other control, so a shared link reopens the same uploaded table.
    """
    keys = {h.name: f"{page}_data.csv.{h.name}" for h in spec.hypers}
    ss = st.session_state
    params = {
        h.name: state.initial(keys[h.name], h.default, widgets_parser(h)) for h in spec.hypers
    }
    state.mark_drawn()
    file = st.file_uploader(
        "CSV file",
        type=["csv"],
        key=f"{page}_csv_file",
        help="Numeric feature columns and one target column (at most 5 MB).",
    )
    target = st.text_input(
        "Target column",
        key=f"{page}_csv_target",
        help="The column to predict; empty: the last column.",
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
        st.error(error, icon=":material/error:")
    elif params.get("sha256"):
        st.caption(f"{params['n_rows']} rows; target column **{params['target']}**.")
    else:
        st.info("Upload a CSV file to train on it.", icon=":material/upload:")
        error = "dataset: upload a CSV file first (sidebar → Data)"
    for h in spec.hypers:
        ss[keys[h.name]] = params[h.name]  # kept for the next rerun, like a widget's value
        state.remember(keys[h.name], params[h.name], h.default)
    return {"dataset_params": dict(params), f"{ERRORS}_data": [error] if error else []}


def model_section(page: str, defaults: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Hidden layers, activation, initializer (+ its hyperparameters), batch norm."""
    d = _defaults(defaults)
    with section("Model"):
        return _model_controls(page, d)


def _model_controls(page: str, d: Mapping[str, Any]) -> dict[str, Any]:
    text = state.bind(
        st.text_input,
        f"{page}_hidden",
        hidden_text(d["hidden"]),
        lambda raw: hidden_text(parse_hidden(raw)),
        "Hidden layers",
        help="Widths of the hidden layers, comma-separated (e.g. 64, 32). "
        "Empty: no hidden layer (logistic, softmax or linear regression).",
    )
    errors: list[str] = []
    try:
        hidden = parse_hidden(text)
    except ValueError as e:
        errors.append(str(e))
        hidden = tuple(d["hidden"])
    activation = choose(nn.ACTIVATIONS, f"{page}_activation", "Activation", d["activation"])
    initializer = choose(nn.INITIALIZERS, f"{page}_init", "Initializer", d["initializer"])
    init_params = spec_params(nn.INITIALIZERS[initializer], f"{page}_init.{initializer}")
    batchnorm = state.bind(
        st.toggle,
        f"{page}_batchnorm",
        bool(d["batchnorm"]),
        state.parse_bool,
        "Batch normalisation",
        help="Normalise each hidden layer's pre-activations over the batch.",
    )
    return {
        "hidden": hidden,
        "activation": activation,
        "initializer": initializer,
        "init_params": init_params,
        "batchnorm": batchnorm,
        f"{ERRORS}_model": errors,
    }


def optimizer_section(
    page: str, default: str = "adam", overrides: Mapping[str, Any] | None = None
) -> tuple[str, dict[str, Any]]:
    """One optimizer and its hyperparameters."""
    with section("Optimizer"):
        name = choose(
            optim.REGISTRY,
            f"{page}_optimizer",
            "Optimizer",
            default,
            help="The update rule. Its hyperparameters follow.",
        )
        params = spec_params(
            optim.REGISTRY[name], f"{page}_opt.{name}", (overrides or {}).get(name)
        )
    return name, params


def training_sidebar(
    page: str,
    n_train: int | None,
    optimizer: str | None = None,
    defaults: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Mode (full batch, one sample per update, mini-batch), batch size and sampling."""
    d = _defaults(defaults)
    with section("Mode"):
        return _mode_controls(page, n_train, optimizer, d)


def _mode_controls(
    page: str, n_train: int | None, optimizer: str | None, d: Mapping[str, Any]
) -> dict[str, Any]:
    full_only = bool(optimizer and optim.REGISTRY[optimizer].extra.get("full_batch_only"))
    if full_only:
        mode = "batch"
        if not state.hidden("mode"):
            state.mark_drawn()
            st.caption(
                f"{optim.REGISTRY[optimizer].title} needs the whole training set for every "
                "step, so the mode is **Full batch**."
            )
    else:
        modes = list(MODE_TITLES)
        mode = state.bind(
            st.radio,
            f"{page}_mode",
            d["mode"],
            lambda raw: state.parse_choice(raw, modes),
            "Mode",
            modes,
            format_func=MODE_TITLES.get,
            help=MODE_HELP,
        )
    out = {"mode": mode, "batch_size": d["batch_size"], "sampling": d["sampling"]}
    if mode == "minibatch":
        hi = n_train or 100_000
        out["batch_size"] = state.bind(
            st.number_input,
            f"{page}_batch_size",
            min(int(d["batch_size"]), hi),
            lambda raw: state.parse_int(raw, 1, hi),
            "Batch size",
            min_value=1,
            max_value=hi,
            step=1,
            fix=clamp(1, hi),
            help=f"Samples per update, at most the training split ({hi} samples).",
        )
    if mode != "batch":
        samplings = list(SAMPLING_TITLES)
        out["sampling"] = state.bind(
            st.radio,
            f"{page}_sampling",
            d["sampling"],
            lambda raw: state.parse_choice(raw, samplings),
            "Sampling",
            samplings,
            format_func=SAMPLING_TITLES.get,
            horizontal=True,
            help="Shuffle: every sample once per epoch. With replacement: each batch is drawn "
            "independently, as in the textbook definition of SGD.",
        )
    if mode == "sgd":
        out["batch_size"] = 1
    return out


def budget_section(page: str, defaults: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Epochs and seed (the precision sits with the advanced settings)."""
    d = _defaults(defaults)
    with section("Budget"):
        return _budget_controls(page, d)


def _budget_controls(page: str, d: Mapping[str, Any]) -> dict[str, Any]:
    c1, c2 = st.columns(2)
    with c1:
        epochs = state.bind(
            st.number_input,
            f"{page}_epochs",
            int(d["epochs"]),
            lambda raw: state.parse_int(raw, 1, MAX_EPOCHS),
            "Epochs",
            min_value=1,
            max_value=MAX_EPOCHS,
            step=1,
            fix=clamp(1, MAX_EPOCHS),
            help="Passes over the training split.",
        )
    with c2:
        seed = state.bind(
            st.number_input,
            f"{page}_seed",
            int(d["seed"]),
            lambda raw: state.parse_int(raw, 0, 2**32 - 1),
            "Seed",
            min_value=0,
            max_value=2**32 - 1,
            step=1,
            help="Fixes the split, the initial weights and the batch order.",
        )
    return {"epochs": int(epochs), "seed": int(seed)}


def schedule_section(page: str, defaults: Mapping[str, Any] | None = None) -> dict[str, Any]:
    d = _defaults(defaults)
    name = choose(
        schedules.REGISTRY,
        f"{page}_schedule",
        "Learning-rate schedule",
        d["schedule"],
        help="How the learning rate changes with the update index.",
    )
    params = spec_params(schedules.REGISTRY[name], f"{page}_sched.{name}")
    return {"schedule": name, "schedule_params": params}


def stopping_section(page: str, defaults: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Early stopping, gradient clipping and precision."""
    d = _defaults(defaults)
    out: dict[str, Any] = {}
    out["early_stopping"] = state.bind(
        st.toggle,
        f"{page}_early_stopping",
        bool(d["early_stopping"]),
        state.parse_bool,
        "Early stopping",
        help="Stop when the monitored quantity stops improving.",
    )
    if out["early_stopping"]:
        monitors = ["val_loss", "val_metric"]
        out["monitor"] = state.bind(
            st.selectbox,
            f"{page}_monitor",
            d["monitor"],
            lambda raw: state.parse_choice(raw, monitors),
            "Monitor",
            monitors,
            format_func={
                "val_loss": "validation loss",
                "val_metric": "validation accuracy / R²",
            }.get,
        )
        out["patience"] = state.bind(
            st.number_input,
            f"{page}_patience",
            int(d["patience"]),
            lambda raw: state.parse_int(raw, 1, 10_000),
            "Patience (epochs)",
            min_value=1,
            max_value=10_000,
            step=1,
            help="Epochs without improvement before stopping.",
        )
        out["min_delta"] = state.bind(
            st.number_input,
            f"{page}_min_delta",
            float(d["min_delta"]),
            lambda raw: state.parse_float(raw, 0.0, 1e6),
            "Minimum improvement",
            min_value=0.0,
            format="%g",
            help="A change smaller than this does not count as an improvement.",
        )
        out["restore_best"] = state.bind(
            st.toggle,
            f"{page}_restore_best",
            bool(d["restore_best"]),
            state.parse_bool,
            "Restore the best weights",
            help="Keep the parameters of the best epoch.",
        )
    c1, c2 = st.columns(2)
    with c1:
        out["clip_norm"] = state.bind(
            st.number_input,
            f"{page}_clip_norm",
            float(d["clip_norm"]),
            lambda raw: state.parse_float(raw, 0.0, 1e6),
            "Clip norm",
            min_value=0.0,
            format="%g",
            help="Rescale the gradient when its norm exceeds this; 0 turns it off.",
        )
    with c2:
        out["clip_value"] = state.bind(
            st.number_input,
            f"{page}_clip_value",
            float(d["clip_value"]),
            lambda raw: state.parse_float(raw, 0.0, 1e6),
            "Clip value",
            min_value=0.0,
            format="%g",
            help="Clip every gradient entry to ±this; 0 turns it off.",
        )
    dtypes = ["float64", "float32"]
    out["dtype"] = state.bind(
        st.selectbox,
        f"{page}_dtype",
        d["dtype"],
        lambda raw: state.parse_choice(raw, dtypes),
        "Precision",
        dtypes,
        help="Floating-point type of the parameters and data.",
    )
    return out


def model_and_data_sidebar(
    page: str,
    defaults: Mapping[str, Any] | None = None,
    after_model: Callable[[dict[str, Any]], Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Data, model, budget, schedule, stopping and clipping, in the sidebar.

    ``after_model(fields)`` draws a page's own group (the optimizer, the
    mode) right after the model and returns more fields.
    """
    fields: dict[str, Any] = {}
    with st.sidebar:
        fields.update(data_section(page, defaults))
        fields.update(model_section(page, defaults))
        if after_model is not None:
            fields.update(after_model(fields))
        fields.update(budget_section(page, defaults))
        with section("Schedule, stopping and clipping", expander=True):
            fields.update(schedule_section(page, defaults))
            fields.update(stopping_section(page, defaults))
    return fields


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


def is_hidden(key: str) -> bool:
    return hidden_name(key)


# -- a config as the Train page's URL ----------------------------------------------
UI_FIELDS = {
    "dataset",
    "dataset_params",
    "hidden",
    "activation",
    "initializer",
    "init_params",
    "batchnorm",
    "optimizer",
    "optimizer_params",
    "mode",
    "batch_size",
    "sampling",
    "epochs",
    "seed",
    "schedule",
    "schedule_params",
    "early_stopping",
    "monitor",
    "patience",
    "min_delta",
    "restore_best",
    "clip_norm",
    "clip_value",
    "dtype",
}


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


def config_query(config) -> dict[str, str]:
    """Query parameters that make the Train page show ``config``."""
    c = config
    out = {
        "dataset": c.dataset,
        "hidden": hidden_text(c.hidden),
        "activation": c.activation,
        "init": c.initializer,
        "batchnorm": state.dump(c.batchnorm),
        "optimizer": c.optimizer,
        "mode": c.mode,
        "sampling": c.sampling,
        "epochs": str(c.epochs),
        "seed": str(c.seed),
        "schedule": c.schedule,
        "early_stopping": state.dump(c.early_stopping),
        "clip_norm": state.dump(c.clip_norm),
        "clip_value": state.dump(c.clip_value),
        "dtype": c.dtype,
    }
    if c.mode == "minibatch":
        out["batch_size"] = str(c.batch_size)
    if c.early_stopping:
        out.update(
            monitor=c.monitor,
            patience=str(c.patience),
            min_delta=state.dump(c.min_delta),
            restore_best=state.dump(c.restore_best),
        )
    spec_query(f"data.{c.dataset}", c.dataset_params, data.REGISTRY[c.dataset], out)
    spec_query(f"init.{c.initializer}", c.init_params, nn.INITIALIZERS[c.initializer], out)
    spec_query(f"opt.{c.optimizer}", c.optimizer_params, optim.REGISTRY[c.optimizer], out)
    spec_query(f"sched.{c.schedule}", c.schedule_params, schedules.REGISTRY[c.schedule], out)
    return out


def fields_outside_ui(config) -> list[str]:
    """Config fields the sidebar cannot set that differ from their defaults."""
    from engine.config import RunConfig

    return [
        f
        for f in RunConfig.__dataclass_fields__
        if f not in UI_FIELDS and getattr(config, f) != RunConfig.__dataclass_fields__[f].default
    ]

"""Modes & batch size: full batch vs one sample per update vs mini-batches."""

import pandas as pd
import streamlit as st

from engine import optim
from ui import cache, charts, links, sidebar, state, summaries
from ui.pages import SIDEBAR_GROUPS
from ui.results import chart_with_download, guard, log_toggle

PAGE = "modes"
START = {"dataset": "digits", "hidden": (64,), "epochs": 10, "optimizer": "sgd"}
SIZES = ["1", "8", "16", "32", "64", "128", "256", "512", "full"]
DEFAULT_SIZES = ["1", "16", "32", "64", "128", "256", "full"]


def size_title(s: str) -> str:
    return {"1": "1 (one sample per update)", "full": "full batch"}.get(s, s)


def parse_size(raw: str) -> str:
    """A batch size as the field keeps it: a whole number ≥ 1 as text, or ``"full"``."""
    text = str(raw).strip()
    if text.lower() in ("full", "full batch"):
        return "full"
    try:
        b = int(text)
    except ValueError:
        b = 0
    if b < 1:
        raise ValueError(f"“{text}” is not a whole number ≥ 1 or “full”")
    return str(b)


def size_order(s: str) -> float:
    try:
        return float(parse_size(s).replace("full", "inf"))
    except ValueError:
        return float("inf")


def parse_sizes(raw: str) -> list[str]:
    return state.parse_list(raw, parse_size)


def valid_sizes(values: list) -> tuple[list[str], list[str]]:
    """The distinct valid batch sizes of the field, and what is wrong with the others."""
    good, bad = [], []
    for v in values:
        try:
            s = parse_size(v)
        except ValueError as e:
            bad.append(str(e))
            continue
        if s not in good:
            good.append(s)
    return good, bad


st.title("Modes & batch size")
st.caption(
    "The same network, optimizer and number of epochs, with different batch sizes. "
    "Small batches make many cheap, noisy updates per epoch; the full batch makes one "
    "exact but expensive update. Which is fastest depends on whether you count epochs, "
    "updates or seconds."
)
links.begin(PAGE)

fields = sidebar.render(PAGE, SIDEBAR_GROUPS[PAGE], START)
name = fields["optimizer"]
n_train = sidebar.n_train(fields)
c1, c2 = st.columns([4, 1], vertical_alignment="bottom")
with c1:
    shown = state.initial("modes_sizes", DEFAULT_SIZES, parse_sizes)
    picked = state.bind(
        st.multiselect,
        "modes_sizes",
        DEFAULT_SIZES,
        parse_sizes,
        "Batch sizes",
        sorted(set(SIZES) | set(shown), key=size_order),
        format_func=size_title,
        accept_new_options=True,
        placeholder="Pick or type a batch size",
        to_text=lambda v: ",".join(sorted(valid_sizes(v)[0], key=size_order)),
        help="Samples per update: pick one from the list, or type any whole number and press "
        f"Enter. “full” is the whole training split ({n_train or '?'} samples).",
    )
with c2:
    target = state.bind(
        st.number_input,
        "modes_target",
        0.5,
        lambda r: state.parse_float(r, 0.0),
        "Target val loss",
        min_value=0.0,
        format="%g",
        step=0.05,
        help="The table reports when each batch size first reached it.",
    )
sizes, bad = valid_sizes(picked)
sizes = sorted(sizes, key=size_order)
for b in bad:
    st.error(f"**Batch sizes**: {state.plain(b, 80)} (e.g. 20), so it is left out.", icon=":material/error:")

full_only = optim.REGISTRY[name].extra.get("full_batch_only")
configs, notes = [], []
for s in sizes:
    if full_only and s != "full":
        notes.append(
            f"{optim.REGISTRY[name].title} needs the full batch; batch size {s} is skipped."
        )
        continue
    if s == "full":
        mode, b = "batch", n_train or 1
    elif s == "1":
        mode, b = "sgd", 1
    else:
        mode, b = "minibatch", int(s)
        if n_train is not None and b >= n_train:
            notes.append(
                f"Batch size {s} is not smaller than the training split ({n_train}); "
                "it is the full batch."
            )
            continue
    try:
        configs.append((s, b, sidebar.make_config(fields, mode=mode, batch_size=b)))
    except ValueError as e:
        st.error(f"**Batch size {s}**: {state.plain(e, 300)}", icon=":material/error:")
        break
for n in notes:
    st.caption(n)

run = links.run_button(PAGE, "Run all batch sizes", disabled=not configs)
results = []
with guard("The runs"):
    items = [(cfg, f"batch size {size_title(s)} · ", None) for s, _, cfg in configs]
    found = cache.run_many(items) if run else [cache.lookup(cfg) for cfg, _, _ in items]
    results = [(s, b, r) for (s, b, _), r in zip(configs, found, strict=True) if r is not None]
if configs and len(results) < len(configs):
    st.info(
        "Press **Run all batch sizes** to train the missing ones."
        if results
        else "Press **Run all batch sizes** to train every batch size on the same epoch budget.",
        icon=":material/play_arrow:",
    )

if results:
    rows, frames = [], []
    for s, b, r in results:
        lab = "full" if s == "full" else f"b={s}"
        mode = {"1": "one sample per update", "full": "full batch"}.get(s, "mini-batch")
        rows.append(summaries.timing_row(mode, b, r, float(target)) | {"label": lab})
        frames.append(r.history.assign(label=lab))
    table = summaries.lecture_table(rows)
    order = list(table["label"])  # results follow the batch sizes, smallest first
    hist = pd.concat(frames, ignore_index=True)
    st.subheader("Timing")
    # updates / s (= updates per epoch / time per epoch) and the training time (≈ time / epoch × epochs)
    # are left out so that every column fits the page
    st.dataframe(
        table.drop(columns=["label", "updates / s", "training time (s)"], errors="ignore"),
        hide_index=True,
        key="modes_table",
        width="stretch",
        placeholder="",
        column_config={
            "mode": st.column_config.TextColumn(width=170),
            "status": st.column_config.TextColumn(width=95),
            "time / epoch (ms)": st.column_config.NumberColumn(format="%.3g"),
            "time to target (ms)": st.column_config.NumberColumn(format="%.3g"),
            "final val loss": st.column_config.NumberColumn(format="%.4f"),
        },
    )
    st.caption(
        "Like the lecture's table of batch size against training time: small batches "
        "pay Python and NumPy overhead on every update, so their time per epoch is "
        "high even though each update is cheap. An empty cell: the target was not reached."
    )
    with guard("The timing chart"):
        chart_with_download(charts.time_per_epoch(table, order=order), "modes-time-per-epoch")

    st.subheader("Curves")
    c1, c2 = st.columns([1, 5])
    with c1:
        log_y = log_toggle("modes_log_y")
    tabs = st.tabs(["vs epochs", "vs updates", "vs wall time"])
    notes = {
        "epoch": "Per epoch, small batches are ahead: they made many more updates.",
        "updates": "Per update (log scale), large batches are ahead: each of their steps "
        "follows a more exact gradient.",
        "time_s": "Per second (log scale), the winner is usually in between: the sweet spot of "
        "the mini-batch.",
    }
    for tab, x in zip(tabs, ["epoch", "updates", "time_s"], strict=True):
        with tab, guard("The curves"):
            chart_with_download(
                charts.curves(
                    hist.rename(columns={"label": "batch size"}),
                    "val_loss",
                    x=x,
                    color="batch size",
                    log_y=log_y,
                    log_x=(x != "epoch"),  # b=1's many updates and long time dwarf the rest
                    order=order,
                    ordered=True,
                ),
                f"modes-{x}",
            )
            st.caption(notes[x])

state.finish()

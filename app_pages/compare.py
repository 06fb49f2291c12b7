"""Compare optimizers: the same data, model, initial weights and batches for each."""

import json

import pandas as pd
import streamlit as st

from engine.config import RunConfig
from ui import cache, charts, entries, labels, links, sidebar, state, summaries
from ui.defaults import COMPARE_ENTRIES, COMPARE_START
from ui.pages import SIDEBAR_GROUPS
from ui.results import chart_with_download, guard, log_toggle, metric_picker, number, x_axis_picker

PAGE = "compare"
START = COMPARE_START
DEFAULT_ENTRIES = COMPARE_ENTRIES
LAST = "compare_last"  # the last complete comparison: [(entry, seed, config JSON, legend)]
METRICS = ["val_loss", "train_loss", "val_acc", "train_acc", "val_r2"]

BOARD_WIDTH = 800  # px: the main column at 1280 px with the sidebar open
NUMBER_WIDTH = {"rank": 45, "best val loss": 100, "final val accuracy": 110, "final val R²": 90,
                "epochs to target": 115, "time (s)": 70, "status": 90}


def board_columns(board: pd.DataFrame) -> list[str]:
    """What the leaderboard shows (the CSV and the table's data keep every column)."""
    shown = ["rank", "optimizer", "best val loss", "final val accuracy", "final val R²",
             "epochs to target", "time (s)"]
    if "status" in board and (board["status"] != "completed").any():
        shown.append("status")
    return [c for c in shown if c in board]


def board_config(board: pd.DataFrame) -> dict:
    """Column widths that fit the leaderboard at 1280 px; the optimizer gets what is left."""
    columns = board_columns(board)
    rest = BOARD_WIDTH - sum(NUMBER_WIDTH.get(c, 100) for c in columns if c != "optimizer")
    longest = int(board["optimizer"].str.len().max()) if len(board) else 10
    config = {
        "optimizer": st.column_config.TextColumn(
            "optimizer", width=int(max(160, min(rest, 7.5 * longest + 24)))
        ),
        "rank": st.column_config.NumberColumn("rank", width=NUMBER_WIDTH["rank"]),
    }
    for c in columns:
        if c not in config:
            config[c] = st.column_config.NumberColumn(
                c, format="%.4g", width=NUMBER_WIDTH.get(c, 100)
            ) if board[c].dtype.kind in "fi" else st.column_config.TextColumn(
                c, width=NUMBER_WIDTH.get(c, 100)
            )
    return config


st.title("Compare optimizers")
st.caption(
    "Every optimizer trains the same network on the same data, from the same initial "
    "weights and with the same batches, so any difference is the update rule's. Add a "
    "copy of one optimizer to compare two settings of it."
)
links.begin(PAGE)

fields = sidebar.render(PAGE, SIDEBAR_GROUPS[PAGE], START)

chosen = entries.pick(PAGE, DEFAULT_ENTRIES)
params = entries.settings(PAGE, chosen, {e: sidebar.starting_params(entries.base(e)) for e in chosen})

c1, c2, c3, c4 = st.columns([1, 1, 2, 1], vertical_alignment="bottom")
with c1:
    seeds = state.bind(
        st.number_input,
        "compare_seeds",
        1,
        lambda r: state.parse_int(r, 1, 5),
        "Seeds per optimizer",
        min_value=1,
        max_value=5,
        step=1,
        help="Run each optimizer with k seeds (different initial weights, splits "
        "and batches) and draw the mean with a band.",
    )
with c2:
    spread = state.bind(
        st.selectbox,
        "compare_band",
        "std",
        lambda r: state.parse_choice(r, ["std", "minmax"]),
        "Band",
        ["std", "minmax"],
        format_func={"std": "± 1 std", "minmax": "min–max"}.get,
        disabled=seeds < 2,
        help="Spread over the seeds.",
    )
with c3:
    targets = list(summaries.TARGETS)
    target_col = state.bind(
        st.selectbox,
        "compare_target_metric",
        "val_loss",
        lambda r: state.parse_choice(r, targets),
        "Target",
        targets,
        format_func=summaries.TARGETS.get,
        help="The leaderboard reports when each optimizer first reached it.",
    )
with c4:
    target = state.bind(
        st.number_input,
        "compare_target",
        0.3,
        lambda r: state.parse_float(r),
        "Target value",
        format="%g",
        step=0.05,
    )

configs, problems = [], []
for entry in chosen:
    for s in range(int(seeds)):
        try:
            cfg = sidebar.make_config(
                fields,
                optimizer=entries.base(entry),
                optimizer_params=params[entry],
                seed=fields["seed"] + s,
            )
            configs.append((entry, s, cfg))
        except ValueError as e:
            problems.append(f"**{entries.title(entry)}**: {state.plain(e, 300)}")
            break
for p in dict.fromkeys(problems):
    st.error(p, icon=":material/error:")
# legends name the optimizer and every setting that differs between the chosen entries
firsts = {entry: cfg for entry, s, cfg in configs if s == 0}
legend = dict(zip(firsts, labels.run_labels(list(firsts.values())), strict=True))

run = links.run_button(
    PAGE, "Run comparison", disabled=not configs,
    help="Train every chosen optimizer (runs already made are read back at once).",
)

# the first view of the page in a session shows its result without a click
first = LAST not in st.session_state
results, stale = [], False
with guard("The comparison"):
    items = [
        (cfg, f"{legend[entry]} ({i + 1}/{len(configs)}) · ", legend[entry])
        for i, (entry, s, cfg) in enumerate(configs)
    ]
    # a click trains every missing run together, stacked where they share batches
    train_now = bool(items) and (run or (first and not problems))
    found = cache.run_many(items) if train_now else [cache.lookup(cfg) for cfg, _, _ in items]
    for (entry, s, _), r in zip(configs, found, strict=True):
        if r is not None:
            results.append((entry, s, r))
    if results and len(results) == len(configs):
        st.session_state[LAST] = [
            (entry, s, cfg.to_json(), legend[entry]) for entry, s, cfg in configs
        ]
    elif not results and st.session_state.get(LAST):
        # the settings changed: keep the previous comparison on screen until the next run
        legend = {}
        for entry, s, text, lab in st.session_state[LAST]:
            r = cache.lookup(RunConfig.from_dict(json.loads(text)))
            if r is not None:
                results.append((entry, s, r))
                legend[entry] = lab
        stale = bool(results)

if stale:
    st.info(
        "The settings changed since this comparison: press **Run comparison** to run them. "
        "The charts below show your previous comparison.",
        icon=":material/history:",
    )
elif not chosen:
    st.info("Choose at least one optimizer.")
elif len(results) < len(configs):
    if results:
        st.info(
            f"{len(results)} of {len(configs)} runs are ready. Press **Run comparison** for "
            "the rest.",
            icon=":material/play_arrow:",
        )
    else:
        st.info(
            "Press **Run comparison** to train every chosen optimizer.",
            icon=":material/play_arrow:",
        )

if results:
    seeds = max(s for _, s, _ in results) + 1
    frames, rows = [], []
    for entry, s, r in results:
        lab = legend[entry]
        frames.append(r.history.assign(label=lab, seed=s))
        rows.append(summaries.run_row(lab, r, target_col, float(target), s))
    hist = pd.concat(frames, ignore_index=True)
    board = summaries.leaderboard(rows)

    c1, c2, c3 = st.columns([5, 3, 2])  # the x-axis control's four choices fit at 1280 px
    with c1:
        x = x_axis_picker("compare_x")
    with c2:
        y = metric_picker("compare_metric", hist, METRICS)
    with c3:
        log_y = log_toggle("compare_log_y", default=False)

    tab_curves, tab_small, tab_board, tab_diag = st.tabs(
        ["Curves", "Small multiples", "Leaderboard", "Learning rate & gradients"]
    )
    # every chart is built once per run set and view, then served to every session
    view = ("compare", tuple((r.key, legend[e], s) for e, s, r in results), x, y, log_y)
    with tab_curves, guard("The curves"):
        if seeds > 1:
            chart = lambda: charts.band(hist, y, x=x, kind=spread, log_y=log_y)  # noqa: E731
            what = "± 1 std" if spread == "std" else "min–max"
            note = f"Lines are the mean over {seeds} seeds, the band is {what}."
        else:
            chart = lambda: charts.curves(hist, y, x=x, log_y=log_y)  # noqa: E731
            note = "Hover to read every optimizer's value; click a legend entry to pick one out."
        chart_with_download(chart, f"compare-{y}", view=(*view, "curves", seeds, spread))
        st.caption(
            note + " An optimizer that wins per epoch can lose per second: switch the "
            "x-axis to wall time."
        )
    with tab_small, guard("The small multiples"):
        first = hist[hist["seed"] == 0]
        chart_with_download(
            lambda: charts.small_multiples(first, ["train_loss", "val_loss"], x=x, log_y=log_y),
            "compare-small-multiples", view=(*view, "small multiples"),
        )
        st.caption(
            "One panel per optimizer on shared axes: training loss dashed, validation "
            "loss solid. Panels where the two split apart overfit."
        )
    with tab_board:
        st.dataframe(
            board,
            hide_index=True,
            key="compare_board",
            column_order=board_columns(board),
            column_config=board_config(board),
        )
        best = board.iloc[0]
        st.caption(
            f"Ranked by best validation loss (mean over seeds). Best: **{best['optimizer']}** "
            f"at {number(best['best val loss'])}. Target: {summaries.TARGETS[target_col]} "
            f"{target:g}; an empty cell: not reached."
        )
        st.download_button(
            "Curves of all runs (CSV)",
            lambda: hist.to_csv(index=False),
            "compare-curves.csv",
            "text/csv",
            key="compare_dl_curves",
            icon=":material/download:",
            on_click="ignore",
        )
    with tab_diag, guard("The diagnostics"):
        first = hist[hist["seed"] == 0]
        left, right = st.columns(2)
        with left:
            chart_with_download(
                lambda: charts.lr_curve(first, x=x, color="label", log_y=True), "compare-lr",
                view=(*view, "lr"),
            )
        with right:
            chart_with_download(
                lambda: charts.curves(first, "update_ratio", x=x, log_y=True), "compare-update-ratio",
                view=(*view, "update ratio"),
            )
        st.caption(
            "Left: each optimizer's learning rate. Right: the relative size of its "
            "updates; adaptive methods take similar-size steps in every layer."
        )

state.finish()

"""Runs: every stored run, to filter, overlay, download, delete or reopen."""

import io
import json
import zipfile

import streamlit as st

from engine.config import FIELD
from ui import cache, charts, checkpoints, links, sidebar, state
from ui import runs as runs_ui
from ui.results import chart_with_download, guard, log_toggle, metric_picker, x_axis_picker

PAGE = "runs"
st.title("Runs")
st.caption(
    "Every run anyone trained on this server is kept, keyed by its complete "
    "configuration, so a configuration is never trained twice. Select rows to overlay "
    "their curves, download them, delete them, or open one on the Train page."
)
links.begin(PAGE)
deleted = st.session_state.pop("runs_deleted", None)
if deleted:
    st.toast("Deleted " + ", ".join(deleted) + ".", icon=":material/delete:")

with guard("The run store"):
    runs = cache.store().list()
    if runs.empty:
        st.info(
            "No runs yet. Train something on the Train, Compare or Modes page.",
            icon=":material/inbox:",
        )
    else:
        runs["label"] = runs["label"].fillna("")
        with st.sidebar, sidebar.section("Filter"):
            filters = {}
            for col, title in [
                ("dataset", "Dataset"),
                ("optimizer", "Optimizer"),
                ("status", "Status"),
            ]:
                values = sorted(runs[col].dropna().unique().tolist())
                filters[col] = state.bind(
                    st.multiselect,
                    f"runs_{col}",
                    [],
                    lambda raw, values=values: state.parse_list(
                        raw, lambda p: state.parse_choice(p, values)
                    ),
                    title,
                    values,
                    to_text=lambda v: ",".join(v),
                    help="Empty: all.",
                )
            search = state.bind(st.text_input, "runs_search", "", str, "Label or key contains")
        view = runs
        for col, chosen in filters.items():
            if chosen:
                view = view[view[col].isin(chosen)]
        if search:
            s = search.lower()
            view = view[
                view["label"].str.lower().str.contains(s, regex=False)
                | view["key"].str.contains(s, regex=False)
            ]
        view = view.reset_index(drop=True)
        st.caption(f"{len(view)} of {len(runs)} runs. Click column headers to sort.")
        shown = view.assign(
            mode=view["mode"].map(lambda m: FIELD["mode"].title_of(m)),
            hidden=view["hidden"].map(runs_ui.hidden_text),
            engine=view["current"].map({True: "this one", False: "another (not reused)"}),
        )
        if not view["current"].all():
            st.caption(
                f"{int((~view['current']).sum())} run(s) were made by another version of the "
                "engine: they are listed and can be read, but a new request trains again."
            )
        event = st.dataframe(
            shown,
            key=f"runs_table_{st.session_state.get(runs_ui.TABLE, 0)}",
            column_order=runs_ui.COLUMNS,
            on_select="rerun",
            selection_mode="multi-row",
            hide_index=True,
            height=min(420, 38 + 35 * max(len(view), 1)),
            column_config={
                "label": st.column_config.TextColumn("label", width="medium"),
                "optimizer": st.column_config.TextColumn("optimizer", width="small"),
                "lr": st.column_config.NumberColumn("lr", format="%g", width="small"),
                "hidden": st.column_config.TextColumn(
                    "hidden", width="small", help="Hidden layer widths."
                ),
                "dataset": st.column_config.TextColumn("dataset", width="small"),
                "status": st.column_config.TextColumn("status", width="small"),
                "key": st.column_config.TextColumn("key", width="small"),
                "engine": st.column_config.TextColumn(
                    "engine", width="small",
                    help="The engine version that made the run. Runs of another version are "
                    "never served as a cached result: their key includes the engine's numerics.",
                ),
                "created": st.column_config.DatetimeColumn("created", format="YYYY-MM-DD HH:mm"),
                "best_val_loss": st.column_config.NumberColumn("best val loss", format="%.4g"),
                "final_val_loss": st.column_config.NumberColumn("final val loss", format="%.4g"),
                "final_val_metric": st.column_config.NumberColumn(
                    "final val acc / R²", format="%.4g"
                ),
                "test_loss": st.column_config.NumberColumn("test loss", format="%.4g"),
                "total_s": st.column_config.NumberColumn("time (s)", format="%.3g"),
            },
        )
        rows = [r for r in event.selection.rows if r < len(view)]
        keys = view.loc[rows, "key"].tolist()
        if not keys:
            st.info("Select one or more rows to compare them.", icon=":material/touch_app:")
        else:
            store = cache.store()
            hist = store.histories(keys)
            c1, c2, c3 = st.columns([3, 2, 1])
            with c1:
                x = x_axis_picker("runs_x")
            with c2:
                y = metric_picker("runs_metric", hist, runs_ui.METRICS)
            with c3:
                log_y = log_toggle("runs_log_y")
            names = {r["key"]: runs_ui.run_name(r) for _, r in view[view["key"].isin(keys)].iterrows()}
            hist["run"] = hist["key"].map(names)
            with guard("The curves"):
                chart_with_download(
                    charts.curves(hist, y, x=x, color="run", log_y=log_y), "runs-curves"
                )

            configs = {k: store.config(k).to_dict() for k in keys}
            b1, b2, b3, b4 = st.columns(4)
            b1.download_button(
                "Curves (long CSV)",
                hist.to_csv(index=False),
                "runs-curves.csv",
                "text/csv",
                key="runs_dl_curves",
                icon=":material/table:",
                on_click="ignore",
            )
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
                for k, cfg in configs.items():
                    z.writestr(f"config-{k}.json", json.dumps(cfg, indent=2))
            b2.download_button(
                "Configs (JSON, zipped)",
                buf.getvalue(),
                "runs-configs.zip",
                "application/zip",
                key="runs_dl_configs",
                icon=":material/data_object:",
                on_click="ignore",
                help="One JSON file per selected run.",
            )
            if b3.button(
                "Open in Train",
                key="runs_open",
                icon=":material/open_in_new:",
                disabled=len(keys) != 1,
                help="Show this run's configuration on the Train page (select exactly one run).",
            ):
                state.forget("train")
                st.switch_page(
                    "app_pages/train.py", query_params=sidebar.config_query(store.config(keys[0]))
                )
            if len(keys) == 1:
                with guard("The checkpoint"):
                    checkpoints.download(store.get(keys[0]), "runs_dl_checkpoint")
            picked = view[view["key"].isin(keys)]
            names = [runs_ui.short_name(r) for _, r in picked.iterrows()]
            runs_ui.delete_block(b4, picked["key"].tolist(), names)

state.finish()

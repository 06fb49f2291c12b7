"""Reading what an AppTest page shows: charts (spec + data), tables, metrics."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]


def page(name: str, timeout: float = 60) -> AppTest:
    return AppTest.from_file(str(ROOT / "app_pages" / f"{name}.py"), default_timeout=timeout)


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _frame(buf: bytes) -> pd.DataFrame:
    from streamlit import dataframe_util

    return dataframe_util.convert_arrow_bytes_to_pandas_df(buf)


def charts(at: AppTest) -> list[tuple[dict, pd.DataFrame]]:
    """Every Vega-Lite chart: its spec and all its rows stacked (one frame)."""
    out = []
    for el in list(at.get("vega_lite_chart")) + list(at.get("arrow_vega_lite_chart")):
        spec = json.loads(el.proto.spec)
        frames = [_frame(ds.data.data) for ds in el.proto.datasets if ds.data.data]
        if el.proto.data.data:
            frames.append(_frame(el.proto.data.data))
        out.append((spec, pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()))
    return out


def series(spec_data: tuple[dict, pd.DataFrame], column: str) -> set:
    """Distinct values of ``column`` in a chart's data (e.g. its legend entries)."""
    _, data = spec_data
    return set(data[column].dropna().unique()) if column in data else set()


def fields(spec: dict) -> set[str]:
    """Every encoded field name anywhere in a spec."""
    found: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            if "field" in node and isinstance(node["field"], str):
                found.add(node["field"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(spec)
    return found


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def texts(elements) -> str:
    """The elements' text as a reader sees it: Markdown's backslash escapes resolved."""
    return "\n".join(re.sub(r"\\(.)", r"\1", str(e.value)) for e in elements)


def table(at: AppTest, column: str) -> pd.DataFrame:
    """The first st.dataframe that has ``column``."""
    for d in at.dataframe:
        if column in d.value.columns:
            return d.value
    raise AssertionError(f"no table with a {column!r} column")


def count_train_calls(monkeypatch):
    """Count the configs handed to the engine's training loop (engine.train, engine.train_many)."""
    import engine

    calls = []
    real = engine.train

    def counting(config, callback=None, **kw):
        calls.append(config.key())
        return real(config, callback, **kw)

    real_many = engine.train_many

    def counting_many(configs, callback=None, *args, **kw):
        calls.extend(c.key() for c in configs)
        return real_many(configs, callback, *args, **kw)

    monkeypatch.setattr(engine, "train", counting)
    monkeypatch.setattr(engine, "train_many", counting_many)
    return calls

"""Several optimizers side by side, each with its own settings.

An entry is a registered optimizer name, or ``name#k`` for another copy of
it with different settings (e.g. ``adam`` and ``adam#2`` at two learning
rates). The multiselect ``<page>_optimizers`` holds the entries; each
entry's hyperparameters sit in an expander with keys ``<page>_opt.<entry>.*``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import streamlit as st

from engine import optim
from engine.spec import Hyper
from ui import state
from ui.widgets import hyper_widget, spec_params


def base(entry: str) -> str:
    return entry.split("#", 1)[0]


def title(entry: str) -> str:
    spec = optim.REGISTRY[base(entry)]
    return spec.title + (f" #{entry.split('#', 1)[1]}" if "#" in entry else "")


def _parse_entry(raw: str) -> str:
    name, _, k = raw.partition("#")
    if name not in optim.REGISTRY:
        raise ValueError(f"{name!r} is not a registered optimizer")
    if k and (not k.isdigit() or int(k) < 2):
        raise ValueError(f"{raw!r}: a copy is written name#2, name#3, …")
    return raw


def _parse_entries(raw: str) -> list[str]:
    entries = state.parse_list(raw, _parse_entry)
    if len(set(entries)) != len(entries):
        raise ValueError("an optimizer is listed twice")
    return entries


def _add_copy(page: str) -> None:
    ss = st.session_state
    of = ss.get(f"{page}_copy_of")
    if not of:
        return
    chosen = list(ss.get(f"{page}_optimizers", []))
    taken = set(chosen) | set(ss.get(f"{page}_copies", []))
    k = 2
    while f"{of}#{k}" in taken:
        k += 1
    entry = f"{of}#{k}"
    ss[f"{page}_copies"] = [*ss.get(f"{page}_copies", []), entry]
    if of not in chosen:
        chosen.append(of)
    ss[f"{page}_optimizers"] = [*chosen, entry]


def pick(
    page: str, defaults: Sequence[str], label: str = "Optimizers", help: str | None = None
) -> list[str]:
    """The multiselect of entries (key ``<page>_optimizers``) and the add-a-copy control."""
    ss = st.session_state
    key = f"{page}_optimizers"
    defaults = [d for d in defaults if base(d) in optim.REGISTRY]
    chosen = state.initial(key, list(defaults), _parse_entries)
    copies = list(dict.fromkeys([*ss.get(f"{page}_copies", []), *(e for e in chosen if "#" in e)]))
    ss[f"{page}_copies"] = copies
    options = list(optim.REGISTRY) + copies
    c1, c2, c3 = st.columns([6, 2, 1], vertical_alignment="bottom")
    with c1:
        entries = state.bind(
            st.multiselect,
            key,
            list(defaults),
            _parse_entries,
            label,
            options,
            format_func=title,
            help=help
            or "Each chosen optimizer trains the same model from the "
            "same initial weights on the same batches.",
            to_text=lambda v: ",".join(v),
        )
    if not state.hidden("optimizers"):
        with c2:
            st.selectbox(
                "Add a copy of",
                list(optim.REGISTRY),
                key=f"{page}_copy_of",
                format_func=lambda n: optim.REGISTRY[n].title,
                help="Add the same optimizer again, to compare two settings of it.",
            )
        with c3:
            st.button(
                "Add",
                key=f"{page}_add_copy",
                on_click=_add_copy,
                args=(page,),
                icon=":material/add:",
                help="Add a copy of the optimizer on the left.",
            )
    # the chosen optimizers wrap onto more lines instead of scrolling out of sight
    st.html(
        f"<style>.st-key-{key} [data-testid='stMultiSelectTagsContainer'] "
        "{ flex-wrap: wrap; overflow: visible; height: auto; }"
        f".st-key-{key} div {{ max-height: none !important; }}</style>"
    )
    return list(entries)


def settings(
    page: str,
    entries: Sequence[str],
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    columns: int = 3,
    extra: Sequence[Hyper] = (),
) -> dict[str, dict[str, Any]]:
    """Each entry's hyperparameters in an expander; returns entry -> params.

    ``extra`` hyperparameters that are not the optimizer's (a path's clipping)
    are drawn after its own, with keys ``<page>_opt.<entry>.<name>``.
    """
    overrides = overrides or {}
    out: dict[str, dict[str, Any]] = {}
    cols = st.columns(columns)
    for i, entry in enumerate(entries):
        spec = optim.REGISTRY[base(entry)]
        start = overrides.get(entry, overrides.get(base(entry))) or {}
        with cols[i % columns], st.expander(f"{title(entry)} settings", icon=":material/tune:"):
            st.caption(spec.help)
            out[entry] = spec_params(spec, f"{page}_opt.{entry}", start)
            for h in extra:
                out[entry][h.name] = hyper_widget(h, f"{page}_opt.{entry}.{h.name}", start.get(h.name))
    return out


def legend_label(entry: str, params: Mapping[str, Any]) -> str:
    """``adam · lr 0.001``: the entry and its learning rate."""
    lr = params.get("lr")
    return f"{entry} · lr {lr:g}" if isinstance(lr, int | float) else entry

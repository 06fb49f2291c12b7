"""Lesson links: a lesson as any page's own URL parameters.

``/<page>?lesson=<id>`` (train — also ``/`` —, compare, modes, playground)
loads the lesson's settings into that page's controls and runs them. Where
the page shows one run of the lesson at a time (the contrasts of a Train
lesson; the paths of a Playground lesson that each have their own
learning-rate schedule) ``&run=<k>`` picks the k-th (1 = the first). A
lesson of another page is passed on to its own page. ``&hide=a,b`` hides
controls (:func:`ui.state.hidden`).

Every page starts with :func:`begin`, which applies a lesson link *before*
any control reads the URL, then starts the page's state.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError

from engine import lessons as engine_lessons
from engine import optim, schedules
from engine.lessons import Lesson
from engine.minimize import CLIP_NAMES
from ui import cache, sidebar, state, theme
from ui.pages import ICONS, PAGES, SIDEBAR_GROUPS

TITLES = {url: title for _, title, url in PAGES}
FILES = {url: file for file, _, url in PAGES}
LESSONS_PAGE = "lessons"
_LINKS = "_lesson_links"  # page -> (lesson id, run label or None) a link loaded
_AUTORUN = "_lesson_autorun"  # the page whose next run presses its own run button


def begin(page: str) -> None:
    """Start a page run: apply a lesson link, then the page's URL state, then the notice.

    The first page view of a server process also starts the warm-ups
    (:func:`ui.cache.warm`). Every page gets the sidebar's presentation toggle.
    """
    cache.warm()
    arriving = state.arriving(page)
    opened = apply_link(page, arriving)  # ?lesson=<id> becomes the page's own parameters
    state.begin(page, opened)
    theme.toggle()
    notice(page)
    problem = cache.store_notice()
    if problem:
        state.notices().caption(problem)


def quoted(raw: str) -> str:
    """A user-supplied id, shown only when it looks like one."""
    return f"`{raw}`" if re.fullmatch(r"[A-Za-z0-9_.#-]{1,60}", raw or "") else "in this link"


# =============================================================================
# links: a lesson as a page's query parameters


def _entries(names: list[str]) -> list[str]:
    """Entry names of the Compare and Playground pages: ``adam``, ``adam#2``, ..."""
    out, seen = [], {}
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n}#{seen[n]}")
    return out


def _own_schedules(lesson: Lesson) -> bool:
    return lesson.page == "playground" and any("schedule" in r for r in lesson.setup["runs"])


def run_labels(lesson: Lesson) -> list[str]:
    """The runs a link opens one at a time (``&run=k``); [] when it opens the whole lesson."""
    if lesson.page == "train":
        return [label for label, _, _ in engine_lessons.jobs(lesson)]
    if _own_schedules(lesson):
        return [r["label"] for r in lesson.setup["runs"]]
    return []


def _optimizer_params(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """Every hyperparameter of an optimizer (an inner optimizer's too), defaults filled in."""
    spec = optim.REGISTRY[name]
    out = spec.resolve(
        {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}, "optimizer_params"
    )
    if "inner" in out:
        inner = optim.REGISTRY[out["inner"]]
        out["inner_params"] = inner.resolve(out.get("inner_params") or {}, "inner_params")
    return out


def page_query(lesson: Lesson, run: int = 0) -> dict[str, str]:
    """The query parameters that make the lesson's page show it (its ``run``-th run
    where the page shows one at a time, see :func:`run_labels`).

    Every setting is written out, so the page's own defaults do not matter.
    """
    s = lesson.setup
    if lesson.page == "playground":
        chosen, schedule = s["runs"], s.get("schedule") or {}
        if _own_schedules(lesson):
            chosen = [s["runs"][run]]
            schedule = chosen[0].get("schedule", schedule) or {}
        surface = s["surface"]
        q = {"surface": surface, "steps": str(int(s["steps"]))}
        for i, v in enumerate(s.get("x0") or ()):
            q[f"start.{surface}.{i}"] = state.dump(float(v))
        names = _entries([r["optimizer"] for r in chosen])
        q["optimizers"] = ",".join(names)
        for name, r in zip(names, chosen, strict=True):
            own = {k: v for k, v in r.get("params", {}).items() if k not in CLIP_NAMES}
            params = _optimizer_params(r["optimizer"], own)
            sidebar.spec_query(f"opt.{name}", params, optim.REGISTRY[r["optimizer"]], q)
            for k in CLIP_NAMES:  # the path's clipping, drawn beside its hyperparameters
                if r.get("params", {}).get(k):
                    q[f"opt.{name}.{k}"] = state.dump(float(r["params"][k]))
        if schedule:
            sspec = schedules.REGISTRY[schedule["name"]]
            q["path_schedule"] = schedule["name"]
            params = sspec.resolve(schedule.get("params", {}), "schedule_params")
            sidebar.spec_query(f"psched.{schedule['name']}", params, sspec, q)
        return q
    jobs = engine_lessons.jobs(lesson)
    groups = SIDEBAR_GROUPS[lesson.page]
    if lesson.page == "train":
        return sidebar.config_query(jobs[run][2], groups)
    first = [cfg for _, k, cfg in jobs if k == 0]  # one config per label
    q = sidebar.config_query(first[0], groups)
    if lesson.page == "modes":
        q["sizes"] = ",".join(str(b) for b in s["batch_sizes"])
        return q
    names = _entries([c.optimizer for c in first])
    q["optimizers"] = ",".join(names)
    for name, cfg in zip(names, first, strict=True):
        sidebar.spec_query(f"opt.{name}", dict(cfg.optimizer_params), optim.REGISTRY[cfg.optimizer], q)
    if int(s.get("seeds", 1)) > 1:
        q["seeds"] = str(int(s["seeds"]))
    return q


def apply_link(page: str, arriving: bool = False) -> bool:
    """Turn ``?lesson=<id>[&run=<k>]`` into ``page``'s own query parameters.

    Called by :func:`ui.state.begin` before any control reads the URL. Returns
    True when a lesson was loaded (the page then runs it once, see
    :func:`autorun`).
    """
    ss = st.session_state
    qp = st.query_params
    if page not in engine_lessons.PAGES:
        return False
    if "lesson" not in qp:
        if arriving and any(n not in state.RESERVED for n in qp):
            ss.get(_LINKS, {}).pop(page, None)  # another link: not the lesson's settings
        return False
    raw, raw_run = qp.get("lesson", ""), qp.get("run")
    keep = {k: qp.get(k) for k in state.RESERVED if k in qp}
    for k in ("lesson", "run"):
        if k in qp:
            del qp[k]
    lesson = engine_lessons.LESSONS.get(raw)
    if lesson is None:
        state.warn(
            f"Unknown lesson {quoted(raw)}; this page opens with its usual settings. "
            "The Lessons page lists every lesson."
        )
        return False
    if lesson.page != page:
        st.switch_page(
            FILES[lesson.page],
            query_params={"lesson": lesson.id, **({"run": raw_run} if raw_run else {}), **keep},
        )
    labels = run_labels(lesson)
    run = 0
    if raw_run is not None and labels:
        try:
            run = state.parse_int(raw_run, 1, len(labels)) - 1
        except ValueError:
            state.warn(
                f"URL parameter run ({state.plain(raw_run, 20)}) was ignored (this lesson has runs 1 to "
                f"{len(labels)}); showing run 1."
            )
    qp.from_dict({**keep, **page_query(lesson, run)})
    ss.setdefault(_LINKS, {})[page] = (lesson.id, labels[run] if labels else None)
    if page != "playground":  # the Playground draws its paths anyway
        ss[_AUTORUN] = page
    return True


def run_button(page: str, label: str, *, disabled: bool = False, help: str | None = None) -> bool:
    """The page's primary run button; also True once after a lesson link loaded its settings."""
    auto = autorun(page)
    clicked = st.button(label, key=f"{page}_run", type="primary", disabled=disabled,
                        icon=":material/play_arrow:", help=help)
    return auto or clicked


def autorun(page: str) -> bool:
    """True once after a lesson link loaded its settings into ``page``: run them."""
    ss = st.session_state
    if ss.get(_AUTORUN) == page:
        del ss[_AUTORUN]
        return True
    return False


def notice(page: str) -> None:
    """On a page a lesson link opened: which lesson, its claim, and the way back."""
    link = st.session_state.get(_LINKS, {}).get(page)
    lesson = engine_lessons.LESSONS.get(link[0]) if link else None
    if lesson is None:
        return
    run = f" — run “{link[1]}”" if link[1] else ""
    with state.notices():
        st.info(
            f"**Lesson: {lesson.title}**{run}. {lesson.claim} Change any setting to explore "
            "further.",
            icon=":material/school:",
        )
        page_link(LESSONS_PAGE, "Back to the lesson", {"lesson": lesson.id}, ":material/arrow_back:")


def page_link(
    page: str, label: str, query: dict[str, str], icon: str, help: str | None = None
) -> None:
    """A link to one of the app's pages with these query parameters.

    A page script run on its own (without the router, as in some tests) has no
    other pages to link to; it gets a plain link to the same address.
    """
    try:
        st.page_link(FILES[page], label=label, query_params=query, icon=icon, help=help)
    except StreamlitPageNotFoundError:
        path = "" if page == "train" else page  # the router serves Train, its default, at /
        st.markdown(f"[{label}](/{path}?{urlencode(query)})")


def open_links(lesson: Lesson) -> None:
    """"Open in <page>": one link, or one per run where the page shows one run at a time."""
    title = TITLES[lesson.page]
    labels = run_labels(lesson)
    targets = (
        [(f"Open “{label}” in {title}", {"lesson": lesson.id, "run": str(i + 1)})
         for i, label in enumerate(labels)]
        if labels
        else [(f"Open in {title}", {"lesson": lesson.id})]
    )
    cols = st.columns(min(len(targets), 4))
    for i, (label, query) in enumerate(targets):
        with cols[i % len(cols)]:
            page_link(
                lesson.page, label, query, ICONS[lesson.page],
                help=f"The {title} page with this lesson's settings loaded, to change them "
                "and see what happens.",
            )

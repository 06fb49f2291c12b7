"""Page state that round-trips through the URL.

Every control has a widget key ``<page>_<name>``; ``<name>`` is its query
parameter. A control starts from, in order:

1. its live widget value (the page is being rerun);
2. the URL's value, validated: a malformed one falls back to the default
   with a warning naming the parameter;
3. the value it had earlier in this session (when the page was reached
   through the navigation menu, which clears the URL);
4. its default.

After rendering, the current value is written back to the URL (defaults are
left out, so links stay short), so a copied URL reopens the same
configuration. ``?hide=a,b`` hides controls (lesson links use it); a hidden
control keeps its value. ``?lesson=<id>`` loads a lesson's settings into the
page's controls (see :mod:`ui.lessons`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import streamlit as st

from engine.config import FIELDS

RESERVED = {"hide", "embed", "embed_options"}
# ``hide=`` names for whole sidebar groups: the URL names of each group's config fields. A
# group named like one of its fields (``optimizer``, ``mode``) is not one: hiding that name
# hides the field alone.
GROUPS: dict[str, set[str]] = {}
for _h in FIELDS:
    if _h.group and _h.group not in {f.query for f in FIELDS if f.kind != "params"}:
        GROUPS.setdefault(_h.group, set()).add(_h.query)
_MEM = "_state_memory"  # key -> last value, per session
_PAGE = "_state_page"  # page of the previous run
_WRITTEN = "_state_written"  # query names written in this run
_NOTICES = "_state_notices"  # placeholder for warnings at the top of the page
_SHOWN = "_state_shown"  # warnings shown in this run
_DRAWN = "_state_drawn"  # controls drawn in this run (hidden ones are not)


# -- page lifecycle ------------------------------------------------------
def begin(page: str, opened: bool = False) -> None:
    """Start a page run: take the URL as authoritative when arriving with one.

    ``opened``: a lesson link has just written the page's parameters into the
    URL (:func:`ui.links.begin`), which then describe the whole page too.
    """
    ss = st.session_state
    ss.setdefault(_MEM, {})
    arriving = ss.get(_PAGE) != page
    ss[_PAGE] = page
    ss[_WRITTEN] = set()
    ss[_SHOWN] = set()
    ss[_DRAWN] = 0
    ss[_NOTICES] = st.container()
    if (arriving or opened) and any(name not in RESERVED for name in st.query_params):
        # A link (or "Open in Train") describes the whole configuration: what
        # it leaves out is a default, not what this session had before.
        prefix = f"{page}_"
        ss[_MEM] = {k: v for k, v in ss[_MEM].items() if not k.startswith(prefix)}
        for k in [k for k in ss if isinstance(k, str) and k.startswith(prefix)]:
            del ss[k]


def arriving(page: str) -> bool:
    """Whether this run of ``page`` comes from another page (or is the session's first)."""
    return st.session_state.get(_PAGE) != page


def finish() -> None:
    """Drop URL parameters of controls that were not shown in this run."""
    written = st.session_state.get(_WRITTEN, set())
    for name in list(st.query_params):
        if name not in RESERVED and name not in written:
            del st.query_params[name]


def notices():
    """The container at the top of the page that holds its warnings and notes."""
    return st.session_state.get(_NOTICES) or st.container()


def drop(key: str) -> None:
    """Forget control ``key``'s value (in the session and the URL): it starts from its default."""
    ss = st.session_state
    ss.pop(key, None)
    ss.get(_MEM, {}).pop(key, None)
    if name_of(key) in st.query_params:
        del st.query_params[name_of(key)]


def warn(message: str) -> None:
    """Show a warning at the top of the page (once per run)."""
    ss = st.session_state
    shown = ss.setdefault(_SHOWN, set())
    if message in shown:
        return
    shown.add(message)
    (ss.get(_NOTICES) or st).warning(message, icon=":material/link_off:")


def forget(page: str) -> None:
    """Forget a page's remembered values (before opening it with a new URL)."""
    ss = st.session_state
    prefix = f"{page}_"
    ss[_MEM] = {k: v for k, v in ss.get(_MEM, {}).items() if not k.startswith(prefix)}
    if ss.get(_PAGE) == page:
        ss[_PAGE] = None


def name_of(key: str) -> str:
    """The query parameter of widget key ``<page>_<name>``."""
    return key.split("_", 1)[1] if "_" in key else key


def hidden(name: str) -> bool:
    """Whether ``?hide=`` hides control ``name`` (or a group it belongs to).

    ``hide=opt`` hides every ``opt.*`` control; ``hide=lr`` hides every
    control whose last part is ``lr``; a sidebar group's name (``data``,
    ``model``, ``budget``, ``advanced``: see :data:`GROUPS`) hides that group.
    """
    raw = st.query_params.get("hide")
    if not raw:
        return False
    hide = {h.strip() for h in raw.split(",") if h.strip()}
    parts = name.split(".")
    prefixes = {".".join(parts[: i + 1]) for i in range(len(parts))}
    return (
        bool(hide & prefixes)
        or parts[-1] in hide
        or any(parts[0] in GROUPS.get(h, ()) for h in hide)
    )


def drawn() -> int:
    """How many controls this run has drawn so far (a control hidden by ``?hide=`` is not)."""
    return st.session_state.get(_DRAWN, 0)


def mark_drawn() -> None:
    """Count a control drawn without :func:`bind` (e.g. a file upload)."""
    ss = st.session_state
    ss[_DRAWN] = ss.get(_DRAWN, 0) + 1


# -- one control ---------------------------------------------------------
def initial(key: str, default: Any, parse: Callable[[str], Any]) -> Any:
    """The value control ``key`` starts from (see the module docstring)."""
    ss = st.session_state
    if key in ss:
        return ss[key]
    name = name_of(key)
    raw = st.query_params.get(name)
    if raw is not None:
        try:
            return parse(raw)
        except (ValueError, TypeError) as e:
            detail = str(e) or "malformed"
            text = dump(default)
            fallback = f"using the default {plain(text)}" if text else "left empty, its default"
            warn(f"URL parameter `{name}` ({plain(raw)}) was ignored ({plain(detail, 200)}); {fallback}.")
            return default
    return ss.get(_MEM, {}).get(key, default)


def seed(key: str, value: Any) -> None:
    """Give widget ``key`` its starting value before it is drawn."""
    st.session_state[key] = value


def remember(
    key: str, value: Any, default: Any, to_text: Callable[[Any], str] | None = None
) -> None:
    """Keep ``value`` for this session and write it to the URL."""
    ss = st.session_state
    ss.setdefault(_MEM, {})[key] = value
    name = name_of(key)
    ss.setdefault(_WRITTEN, set())
    if _same(value, default):
        if name in st.query_params:
            del st.query_params[name]
        return
    text = (to_text or dump)(value)
    ss[_WRITTEN].add(name)
    if st.query_params.get(name) != text:
        st.query_params[name] = text


def bind(
    widget: Callable[..., Any],
    key: str,
    default: Any,
    parse: Callable[[str], Any],
    *args: Any,
    to_text: Callable[[Any], str] | None = None,
    fix: Callable[[Any], Any] | None = None,
    **kwargs: Any,
) -> Any:
    """Draw ``widget(*args, key=key, **kwargs)`` bound to the URL; return its value.

    ``fix`` adjusts the starting value to what the widget can show (e.g.
    clamps it to the current bounds). A control hidden by ``?hide=`` is not
    drawn and keeps its value.
    """
    value = initial(key, default, parse)
    if fix is not None:
        value = fix(value)
    if hidden(name_of(key)):
        remember(key, value, default, to_text)
        return value
    seed(key, value)
    value = widget(*args, key=key, **kwargs)
    mark_drawn()
    remember(key, value, default, to_text)
    return value


# -- text forms ----------------------------------------------------------
MARKDOWN_SPECIALS = set("\\`*_{}[]()<>#+-.!|~$:=&\"'")


def plain(text: Any, limit: int = 40) -> str:
    """``text`` (e.g. from a link) shown as written inside a Markdown message: at most
    ``limit`` characters, every Markdown, HTML and LaTeX character escaped."""
    text = " ".join(str(text).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return "".join("\\" + c if c in MARKDOWN_SPECIALS else c for c in text)


def _range(low: Any, high: Any) -> str:
    """``[0, 5]``, ``at least 0``, ``at most 5``: the allowed range, never naming a missing end."""
    if low is not None and high is not None:
        return f"outside [{low:g}, {high:g}]"
    if low is not None:
        return f"below the minimum {low:g}"
    return f"above the maximum {high:g}"



def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return (
        type(a) is type(b)
        and a == b
        or (
            isinstance(a, int | float)
            and isinstance(b, int | float)
            and not isinstance(a, bool)
            and not isinstance(b, bool)
            and a == b
        )
    )


def dump(value: Any) -> str:
    """The URL text of a value (``parse_*`` read it back)."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list | tuple):
        return ",".join(dump(v) for v in value)
    return str(value)


def parse_bool(raw: str) -> bool:
    low = raw.strip().lower()
    if low in ("true", "1", "yes", "on"):
        return True
    if low in ("false", "0", "no", "off"):
        return False
    raise ValueError("expected true or false")


def parse_float(raw: str, low: float | None = None, high: float | None = None) -> float:
    try:
        v = float(raw)
    except ValueError:
        raise ValueError("not a number") from None
    if not math.isfinite(v):
        raise ValueError("not a finite number")
    if (low is not None and v < low) or (high is not None and v > high):
        raise ValueError(_range(low, high))
    return v


def parse_int(raw: str, low: int | None = None, high: int | None = None) -> int:
    try:
        v = int(raw.strip())
    except ValueError:
        raise ValueError("not a whole number") from None
    if (low is not None and v < low) or (high is not None and v > high):
        raise ValueError(_range(low, high))
    return v


def parse_choice(raw: str, choices: Sequence[Any]) -> Any:
    for c in choices:
        if dump(c) == raw or (isinstance(c, str) and c == raw):
            return c
    raise ValueError("allowed: " + ", ".join(dump(c) for c in choices))


def parse_list(raw: str, item: Callable[[str], Any]) -> list[Any]:
    if raw.strip() == "":
        return []
    return [item(p.strip()) for p in raw.split(",")]


def parser(kind: str, **kw: Any) -> Callable[[str], Any]:
    """A parse function by kind: ``bool``, ``float``, ``int``, ``choice``."""
    if kind == "bool":
        return parse_bool
    if kind == "float":
        return lambda raw: parse_float(raw, kw.get("low"), kw.get("high"))
    if kind == "int":
        return lambda raw: parse_int(raw, kw.get("low"), kw.get("high"))
    if kind == "choice":
        return lambda raw: parse_choice(raw, kw["choices"])
    raise ValueError(kind)

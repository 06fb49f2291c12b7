"""Play/Pause for a chart with a ``step`` parameter, entirely in the browser.

:func:`player_html` compiles a Vega-Lite chart that filters by the parameter
``step`` (``charts.surface_chart(..., play=True)``) to Vega, adds a *Play*
checkbox and a *steps per second* slider, and lets a timer advance ``step``:
no server round trip per frame. The page is self-contained (the Vega
libraries are inlined from vl-convert's bundle), so it works offline.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import altair as alt

from ui import charts

TICK_MS = 50  # timer period; the speed slider sets how far each tick advances


@functools.lru_cache(maxsize=1)
def _bundle() -> str:
    import vl_convert

    return vl_convert.javascript_bundle()


def vega_spec(
    chart: alt.TopLevelMixin, last: int, height: int, speed: float = 10.0, present: bool = False
) -> dict[str, Any]:
    """The themed chart as Vega with ``playing`` and ``speed`` controls driving ``step``.

    ``step`` runs from its current value to ``last`` at ``speed`` steps per
    second and starts again from 0; unticking *Play* holds it, and its slider
    still moves it by hand.
    """
    import vl_convert

    spec = charts.png_spec(chart, present)
    spec["height"] = int(height)
    spec["width"] = "container"
    vg = vl_convert.vegalite_to_vega(json.dumps(spec))
    signals = vg.setdefault("signals", [])
    names = [s.get("name") for s in signals]
    if charts.STEP_PARAM not in names:
        raise ValueError("the chart has no step parameter to play")
    dt = TICK_MS / 1000
    at = names.index(charts.STEP_PARAM)
    # ``clock`` advances by fractions of a step per tick; ``step`` shows its whole part. While
    # paused the clock follows the slider, so Play resumes from where the lecturer left it.
    signals[at]["on"] = [
        {"events": f"timer{{{TICK_MS}}}", "update": f"playing ? min({last}, floor(clock)) : step"}
    ]
    signals[at:at] = [
        {"name": "playing", "value": False, "bind": {"input": "checkbox", "name": "Play "}},
        {
            "name": "speed",
            "value": float(speed),
            "bind": {"input": "range", "min": 1, "max": 60, "step": 1, "name": "steps per second "},
        },
        {
            "name": "clock",
            "value": float(signals[at].get("value", 0)),
            "on": [
                {
                    "events": f"timer{{{TICK_MS}}}",
                    "update": f"playing ? (clock >= {last} ? 0 : clock + speed * {dt}) : step",
                }
            ],
        },
    ]
    return vg


def player_html(
    chart: alt.TopLevelMixin, last: int, height: int, speed: float = 10.0, present: bool = False
) -> str:
    """A self-contained HTML page showing the playable chart (for ``components.html``)."""
    vg = vega_spec(chart, last, height, speed, present)
    font = charts.FONT["label"][int(bool(present))]
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><style>
body {{ margin: 0; font-family: "Source Sans Pro", sans-serif; color: {charts.INK}; }}
#chart {{ width: 100%; }}
.vega-bindings {{ display: flex; flex-wrap: wrap; gap: 0.4em 1.6em; font-size: {font}px; margin-top: 6px; }}
.vega-bind input[type=range] {{ width: 14em; vertical-align: middle; }}
.vega-bind input[type=checkbox] {{ width: 1.2em; height: 1.2em; vertical-align: middle; }}
</style></head><body><div id="chart"></div>
<script>{_bundle()}</script>
<script>vegaEmbed("#chart", {json.dumps(vg)}, {{"renderer": "svg", "actions": false}});</script>
</body></html>"""

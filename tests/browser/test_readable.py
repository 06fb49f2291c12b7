"""Readable from the back row, honest in every view, checked on what the browser draws.

Legends name the setting that differs (Compare), the Playground's saddle and Rosenbrock
defaults converge with a contour plot whose negative ticks keep their minus signs, tick
labels are large and dark and charts grow with the window, the Modes table reads in
milliseconds without "None", and the Playground plays without the server.

Streamlit draws a chart with many marks (the contour plot) and every ``st.dataframe``
on a canvas, where the DOM holds no text. For those the page records each
``fillText`` call of its canvases (text, font, left edge), so a test reads what was
painted, as a student would, and not the data behind it.

Each test opens a fresh browser context and keeps to tiny configurations.
"""

from __future__ import annotations

import re
import time

import pytest
from browsertools import EXCEPTIONS, WATCH_RUNS_JS, grid_rows, open_page, run_and_wait, wait_idle
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

RUN_TIMEOUT_MS = 180_000
TINY = "dataset=iris&hidden=4&epochs=2"
COMPARE = f"compare?optimizers=sgd,sgd%232&opt.sgd%232.momentum=0.9&{TINY}&batch_size=16"
NUMBER = re.compile(r"^[−-]?\d+(\.\d+)?$")
MINUS = ("−", "-")  # Vega writes U+2212; a plain hyphen would do as well

# Records every text a canvas paints, with its font and left/right edges in canvas pixels.
RECORD_CANVAS_TEXT = """(() => {
  const fillText = CanvasRenderingContext2D.prototype.fillText;
  CanvasRenderingContext2D.prototype.fillText = function (text, x, y, ...rest) {
    const m = this.getTransform(), s = String(text), w = this.measureText(s).width * m.a;
    const at = m.a * x + m.c * y + m.e;
    const shift = ['right', 'end'].includes(this.textAlign) ? w : this.textAlign === 'center' ? w / 2 : 0;
    (this.canvas.__painted ??= []).push({text: s, font: this.font, align: this.textAlign,
      left: at - shift, right: at - shift + w, y: m.b * x + m.d * y + m.f});
    return fillText.call(this, text, x, y, ...rest);
  };
})()"""


def assert_no_exception(page) -> None:
    errors = page.locator(EXCEPTIONS)
    if errors.count():
        pytest.fail("the page shows an exception:\n" + "\n---\n".join(errors.all_inner_texts()))


def painted(canvases) -> list[dict]:
    """The texts the canvases matched by a locator painted, each once (redraws repeat them)."""
    found = canvases.evaluate_all("cs => cs.flatMap(c => c.__painted || [])")
    seen, out = set(), []
    for t in found:
        key = (t["text"], round(t["left"]), round(t["y"]))
        if key not in seen:
            seen.add(key)
            out.append(t)
    return out


def open_comparison(page, app_url: str) -> None:
    """Open the tiny SGD-against-SGD-with-momentum comparison and wait for its charts.

    A fresh session trains what it opens; a build that does not gets its button pressed.
    """
    open_page(page, app_url, COMPARE)
    if not page.locator('[data-testid="stMain"] .vega-embed svg').count():
        run = page.locator(".st-key-compare_run").get_by_role("button")
        run_and_wait(page, run.click, timeout=RUN_TIMEOUT_MS)
    page.locator('[data-testid="stMain"] .vega-embed svg').first.wait_for(state="visible")


def svg_texts(locator) -> list[str]:
    """The text of SVG ``<text>`` elements (they have no ``innerText``)."""
    return locator.evaluate_all("ts => ts.map(t => t.textContent)")


# -- item 1: the legend names the setting that differs -------------------------


def test_compare_legend_and_leaderboard_name_the_momentum_that_differs(page, app_url):
    page.set_viewport_size({"width": 1280, "height": 800})
    open_comparison(page, app_url)
    chart = page.locator('[data-testid="stMain"] .vega-embed svg').first
    legend = svg_texts(chart.locator(".role-legend-label text"))
    # plain SGD keeps its registry default (momentum 0); before, both read "sgd · lr 0.05"
    assert sorted(legend) == ["SGD (torch) · momentum 0", "SGD (torch) · momentum 0.9"], legend
    page.get_by_role("tab", name="Leaderboard").click()
    board = page.locator('[data-testid="stDataFrame"]').first  # the leaderboard, the page's only one
    board.wait_for(state="visible")
    headers, rows = grid_rows(board, "optimizer")
    name, loss = headers.index("optimizer"), headers.index("best val loss")
    by_name = {r[name]: float(r[loss]) for r in rows}
    assert set(by_name) == set(legend), rows
    # and the two settings really train differently (not momentum 0.9 twice)
    assert by_name["SGD (torch) · momentum 0"] != by_name["SGD (torch) · momentum 0.9"], by_name
    assert_no_exception(page)


# -- item 3: saddle and Rosenbrock defaults converge, ticks keep their signs ----


@pytest.mark.parametrize("surface", ["saddle", "rosenbrock"])
def test_playground_defaults_converge_on_the_surface_with_signed_ticks(page, app_url, surface):
    page.set_viewport_size({"width": 1280, "height": 800})
    page.add_init_script(RECORD_CANVAS_TEXT)
    open_page(page, app_url, f"playground?surface={surface}")
    main = page.locator('[data-testid="stMain"]')
    contour = main.locator(".vega-embed").first
    contour.locator("canvas, svg").first.wait_for(state="visible")
    # no warning at all (before: one per diverged optimizer), no path left the window
    expect(main.locator('[data-testid="stAlert"]')).to_have_count(0)
    text = main.inner_text()
    assert "diverged" not in text and "Left the window" not in text, text[:2000]
    # the legend lists the four default optimizers with this surface's learning rates
    if contour.locator("canvas").count():
        texts = painted(contour.locator("canvas"))
    else:  # an SVG chart (few marks) keeps its text in the DOM
        texts = contour.locator("svg").first.evaluate(
            "s => [...s.querySelectorAll('.role-axis-label text')].map(t => { const b = t.getBBox();"
            " return {text: t.textContent, font: getComputedStyle(t).fontSize, align:"
            " t.getAttribute('text-anchor') === 'end' ? 'right' : 'other', left: b.x, right: b.x + b.width,"
            " y: b.y}; })"
        )
    # y-axis tick labels: right-aligned numbers sharing one right edge, one per height
    numbers = [t for t in texts if NUMBER.match(t["text"]) and t["align"] == "right"]
    edges = [round(t["right"]) for t in numbers]
    assert edges, f"no y-axis tick labels were drawn: {texts[:20]}"
    y_ticks = [t for t in numbers if round(t["right"]) == max(set(edges), key=edges.count)]
    assert len({round(t["y"]) for t in y_ticks}) >= 3, y_ticks
    labels = [t["text"] for t in y_ticks]
    assert any(s.startswith(MINUS) for s in labels), f"no negative y tick on {surface}: {labels}"
    # drawn whole, minus sign included, inside the figure
    width = contour.locator("canvas, svg").first.bounding_box()["width"]
    assert all(t["left"] >= 0 and t["right"] <= width for t in y_ticks), y_ticks
    # the f-axis of the loss chart stays readable (before, Rosenbrock's ran to 2e+226)
    loss_axis = main.locator(".vega-embed").nth(1).locator('.role-axis[aria-label^="Y-axis"]')
    top = float(re.findall(r"[−-]?[\d.]+", loss_axis.first.get_attribute("aria-label"))[-1])
    assert top < 1e6, loss_axis.first.get_attribute("aria-label")
    assert_no_exception(page)


# -- item 4: large dark tick labels, charts that follow the window -------------


def expect_taller(chart, than: float, timeout_s: float = 10.0) -> None:
    """Wait until ``chart`` is taller than ``than`` pixels (Vega relayouts after a resize)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        box = chart.bounding_box()
        if box and box["height"] > than:
            return
        time.sleep(0.2)
    raise AssertionError(f"the chart stayed {chart.bounding_box()} after the window grew")


def test_tick_labels_are_large_and_dark_and_charts_grow_with_the_window(page, app_url):
    page.set_viewport_size({"width": 1280, "height": 800})
    open_comparison(page, app_url)
    chart = page.locator('[data-testid="stMain"] .vega-embed').first
    styles = chart.locator(".role-axis-label text").evaluate_all(
        "ts => ts.map(t => { const s = getComputedStyle(t); return [t.textContent, s.fontSize, s.fill]; })"
    )
    assert len(styles) >= 4, styles
    for text, size, fill in styles:
        assert float(size.removesuffix("px")) >= 14, (text, size)
        r, g, b = (int(v) for v in re.findall(r"\d+", fill)[:3])
        assert 0.2126 * r + 0.7152 * g + 0.0722 * b < 80, (text, fill)  # dark, not light grey
    small = chart.bounding_box()["height"]
    # a window made larger (a projector) makes the open page's charts taller, ...
    page.set_viewport_size({"width": 1920, "height": 1080})
    expect_taller(chart, small + 40)
    # ... and so does the same page opened on a projector
    open_comparison(page, app_url)
    assert chart.bounding_box()["height"] > small + 40, (small, chart.bounding_box())
    assert_no_exception(page)


# -- item 7: the Modes table in milliseconds, no "None" ------------------------


def test_modes_table_reads_in_milliseconds_without_none(page, app_url):
    page.set_viewport_size({"width": 1280, "height": 800})
    page.add_init_script(RECORD_CANVAS_TEXT)
    open_page(page, app_url, f"modes?{TINY}&sizes=1,16,full")
    run = page.locator(".st-key-modes_run").get_by_role("button")
    run_and_wait(page, run.click, timeout=RUN_TIMEOUT_MS)  # stored sizes are read back at once
    table = page.locator('[data-testid="stDataFrame"]').first  # the timing table
    table.wait_for(state="visible")
    headers, rows = grid_rows(table, "time / epoch (ms)")
    assert "time / epoch (ms)" in headers and "time to target (ms)" in headers, headers
    assert not any(h.endswith("(s)") for h in headers), headers
    assert [r[headers.index("batch size")] for r in rows] == ["1", "16", "90"], rows
    # on the canvas: every row painted, no cell reads "None", times short and in ms
    page.wait_for_function(
        "el => [...el.querySelectorAll('canvas')]"
        ".some(c => (c.__painted || []).some(t => t.text === 'full batch'))",
        arg=table.element_handle(),
    )
    shown = [t["text"] for t in painted(table.locator("canvas"))]
    assert "time / epoch (ms)" in shown, shown
    assert not [s for s in shown if s.strip().lower() in ("none", "nan", "<na>")], shown
    ms = float(next(r for r in rows if r[0] == "full batch")[headers.index("time / epoch (ms)")])
    assert f"{ms:.3g}" in shown, (ms, shown)  # three significant digits, not 0.0008195
    assert_no_exception(page)


# -- item 10: Play advances the step in the browser ----------------------------


def test_playground_plays_without_the_server(page, app_url):
    page.set_viewport_size({"width": 1280, "height": 800})
    sent: list = []  # every message the page sends the server over its websocket
    page.on("websocket", lambda ws: ws.on("framesent", lambda frame: sent.append(frame)))
    open_page(page, app_url, "playground")
    run_and_wait(page, page.locator(".st-key-playground_play label").first.click)
    player = page.frame_locator('[data-testid="stIFrame"]').first
    step = player.locator('.vega-bind input[name="step"] + span')  # the step the figure shows
    expect(step).to_be_visible()
    wait_idle(page)
    page.evaluate(WATCH_RUNS_JS)  # from now on, count script runs
    quiet = len(sent)
    player.locator('input[name="playing"]').check()
    seen = [step.inner_text()]
    for _ in range(3):  # the step moves on by itself, again and again
        expect(step).not_to_have_text(seen[-1], timeout=10_000)
        seen.append(step.inner_text())
    assert len(set(seen)) >= 3, seen
    assert page.evaluate("() => window.__optlabRuns") == 0, "the animation reran the page script"
    assert len(sent) == quiet, f"the animation sent {len(sent) - quiet} messages to the server"
    assert_no_exception(page)

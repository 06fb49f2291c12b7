"""What a class sees: results on first open, honest statuses, safe deletion, no overflow
at 1280 px, typed learning rates and the presentation toggle, in a real browser.

Each test opens a fresh browser context (a new student) and reuses its page loads for
several checks, so the suite stays short.
"""

from __future__ import annotations

import re

import pytest
from browsertools import CHARTS, EXCEPTIONS, grid_rows, open_page, run_and_wait, wait_idle
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

RUN_TIMEOUT_MS = 180_000
TICKED = '[data-testid="stDataFrame"] tr[role="row"][aria-selected="true"]'


def assert_no_exception(page) -> None:
    errors = page.locator(EXCEPTIONS)
    if errors.count():
        pytest.fail("the page shows an exception:\n" + "\n---\n".join(errors.all_inner_texts()))


def main_text(page) -> str:
    return page.locator('[data-testid="stMain"]').inner_text()


def type_number(page, key: str, value: str) -> None:
    """Type ``value`` into the number input with widget key ``key`` and commit it."""
    box = page.locator(f".st-key-{key.replace('.', '-')} input")  # the class has - for .

    def act():
        box.fill(value)
        box.press("Enter")

    run_and_wait(page, act, timeout=RUN_TIMEOUT_MS)


def inside(inner: dict, outer: dict, slack: float = 1.0) -> bool:
    return (inner["x"] >= outer["x"] - slack and inner["y"] >= outer["y"] - slack
            and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + slack
            and inner["y"] + inner["height"] <= outer["y"] + outer["height"] + slack)


def test_train_opens_with_a_result_flags_divergence_and_takes_any_learning_rate(page, app_url):
    open_page(page, app_url, "")
    page.locator(CHARTS).first.wait_for(state="visible")  # without pressing Train
    assert "Press Train" not in main_text(page)
    # the first change in a fresh session keeps the charts, marked as the previous run
    type_number(page, "train_epochs", "31")
    expect(page.get_by_text("The settings changed since this run")).to_be_visible()
    expect(page.locator(CHARTS).first).to_be_visible()
    # any learning rate can be typed; one out of range is named with its range
    type_number(page, "train_opt.adam.lr", "0.03")
    assert "opt.adam.lr=0.03" in page.url
    type_number(page, "train_opt.adam.lr", "5000")
    named = re.compile(r"lr: 5000 is not allowed \(a number in \[0, 1000\]\)")
    expect(page.get_by_text(named)).to_be_visible()
    assert "opt.adam.lr=0.03" in page.url
    # a run that blows up says so, and where
    open_page(page, app_url, "?optimizer=sgd&opt.sgd.lr=1000")
    expect(page.get_by_text(re.compile(r"Diverged at update \d+"))).to_be_visible()
    assert "Completed 30 epochs" not in main_text(page)
    # y tick labels are short numbers, not cut (the loss reaches 1e20)
    page.locator(CHARTS).first.wait_for(state="visible")
    assert_no_exception(page)


def test_stop_leaves_a_stopped_notice_not_a_frozen_bar(page, app_url):
    # a fresh session trains what it opens at once: one sample per update, many epochs
    page.goto(f"{app_url}/?dataset=digits&mode=sgd&epochs=60", wait_until="domcontentloaded")
    bar = page.locator('[data-testid="stProgress"]')
    bar.first.wait_for(state="visible", timeout=RUN_TIMEOUT_MS)
    page.locator(".st-key-train_stop").get_by_role("button").click()
    wait_idle(page)
    expect(page.get_by_text("Stopped.", exact=False).first).to_be_visible()
    expect(bar).to_have_count(0)
    assert_no_exception(page)


def test_compare_opens_with_a_result_and_fits_1280_px(page, app_url):
    page.set_viewport_size({"width": 1280, "height": 800})
    open_page(page, app_url, "compare")
    page.locator(CHARTS).first.wait_for(state="visible")  # without pressing Run comparison
    # every chosen optimizer's chip is visible, none scrolled out of its box
    chooser = page.locator(".st-key-compare_optimizers")
    tags = chooser.locator('[data-testid="stMultiSelectTagsContainer"] [data-tag]')
    expect(tags).to_have_count(6)
    box = chooser.locator('[data-testid="stMultiSelectTagsContainer"]').bounding_box()
    for tag in tags.all():
        assert inside(tag.bounding_box(), box), tag.inner_text()
    # the x-axis control shows its four choices inside its own column
    xaxis = page.locator(".st-key-compare_x")
    column = page.locator('[data-testid="stColumn"]').filter(has=xaxis).last.bounding_box()
    for button in xaxis.get_by_role("button").all():
        assert inside(button.bounding_box(), column), button.inner_text()
    # the leaderboard's columns fit without a horizontal scroll
    page.get_by_role("tab", name="Leaderboard").click()
    grid = page.locator('[data-testid="stDataFrame"] .dvn-scroller').first
    grid.wait_for(state="visible")
    scroll, client = grid.evaluate("e => [e.scrollWidth, e.clientWidth]")
    assert scroll <= client + 1, (scroll, client)
    # the first change keeps the comparison on screen, marked as the previous one
    type_number(page, "compare_epochs", "21")
    expect(page.get_by_text("The settings changed since this comparison")).to_be_visible()
    expect(page.locator(CHARTS).first).to_be_attached()
    assert_no_exception(page)


def test_runs_delete_names_the_runs_and_clears_the_selection(page, app_url):
    page.set_viewport_size({"width": 1280, "height": 800})
    open_page(page, app_url, "?epochs=3")  # a run of its own (a fresh session trains it)
    open_page(page, app_url, "runs?search=")
    table = page.locator('[data-testid="stDataFrame"]').first
    headers, _ = grid_rows(table, "best val loss")  # waits: the grid fills in after its canvas
    assert headers[:6] == ["label", "optimizer", "lr", "hidden", "dataset", "status"]
    assert headers[6] == "best val loss"
    table.scroll_into_view_if_needed()
    box = table.bounding_box()
    run_and_wait(page, lambda: page.mouse.click(box["x"] + 18, box["y"] + 35 + 17))
    expect(page.locator(TICKED)).to_have_count(1)
    first_label = page.locator('[data-testid="stDataFrame"] tr[aria-rowindex="2"] td').nth(1).inner_text()
    page.get_by_role("button", name="Delete selected").click()
    confirm = page.locator('[data-testid="stPopoverBody"]')
    expect(confirm).to_contain_text(re.compile(rf"{re.escape(first_label)} · [0-9a-f]{{6}}"))
    before = int(re.search(r"of (\d+) runs", main_text(page)).group(1))
    run_and_wait(page, confirm.get_by_role("button", name=re.compile(r"^Delete 1 run$")).click)
    expect(page.get_by_text(f"of {before - 1} runs")).to_be_visible()
    expect(page.locator(TICKED)).to_have_count(0)  # the grid matches the app: nothing selected
    expect(page.get_by_text("Select one or more rows")).to_be_visible()
    assert_no_exception(page)


def test_presentation_toggle_enlarges_charts_and_text_on_every_page(page, app_url):
    open_page(page, app_url, "")
    chart = page.locator(".vega-embed").first
    chart.wait_for(state="visible")
    height = chart.bounding_box()["height"]
    font = page.evaluate("() => parseFloat(getComputedStyle(document.documentElement).fontSize)")
    toggle = page.locator(".st-key-present")
    run_and_wait(page, toggle.locator("label").first.click)
    assert "present=1" in page.url
    page.wait_for_function(f"() => document.querySelector('.vega-embed').getBoundingClientRect().height"
                           f" > {height + 20}")
    assert page.evaluate("() => parseFloat(getComputedStyle(document.documentElement).fontSize)") > font
    # a link with ?present=1 opens another page with it on
    open_page(page, app_url, "compare?present=1")
    expect(page.locator(".st-key-present").get_by_role("switch")).to_be_checked()
    assert page.evaluate("() => parseFloat(getComputedStyle(document.documentElement).fontSize)") > font

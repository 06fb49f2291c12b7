"""The Sweep page in a real browser: a tiny sweep from its URL draws the sensitivity plot, and
Cancel abandons a running sweep, whose finished trials the next Run reads back."""

from __future__ import annotations

import re

import pytest
from browsertools import CHARTS, EXCEPTIONS, SCREENSHOTS, open_page, run_and_wait, screenshot, wait_idle
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

RUN_TIMEOUT_MS = 180_000
TINY = "dataset=iris&hidden=4&epochs=2&optimizers=sgd,adam&trials=2&seeds=1"


def assert_no_exception(page) -> None:
    errors = page.locator(EXCEPTIONS)
    if errors.count():
        pytest.fail("the page shows an exception:\n" + "\n---\n".join(errors.all_inner_texts()))


def run_button(page):
    return page.locator(".st-key-sweep_run").get_by_role("button")


def test_a_tiny_sweep_from_its_url_draws_the_sensitivity_plot(page, app_url):
    open_page(page, app_url, f"sweep?{TINY}")
    assert_no_exception(page)
    expect(page.locator("h1").first).to_contain_text("Sweep")
    expect(page.locator(CHARTS)).to_have_count(0)
    run_and_wait(page, run_button(page).click, timeout=RUN_TIMEOUT_MS)
    assert_no_exception(page)
    main = page.locator('[data-testid="stMain"]')
    expect(main.get_by_role("heading", name="Sensitivity")).to_be_visible()
    page.locator(CHARTS).first.wait_for(state="visible")
    assert "trials=2" in page.url and "optimizers=sgd%2Cadam" in page.url.replace(",", "%2C")
    screenshot(page, SCREENSHOTS / "sweep.png")


def test_cancel_abandons_the_sweep_and_run_continues_it(page, app_url):
    # 2 optimizers × 8 trials on digits, then 3 seed re-runs and 3 runs at the defaults each;
    # cancelled as soon as the button shows, so whatever finished by then is kept
    open_page(page, app_url, "sweep?dataset=digits&hidden=32&epochs=40&optimizers=sgd,adam&trials=8&seeds=3")
    run_button(page).click()
    cancel = page.locator(".st-key-sweep_cancel").get_by_role("button")
    cancel.wait_for(state="visible", timeout=RUN_TIMEOUT_MS)
    cancel.click()
    wait_idle(page, RUN_TIMEOUT_MS)
    assert_no_exception(page)
    expect(page.get_by_text(re.compile(r"Sweep cancelled\. \d+ of its 16 trials are stored"))).to_be_visible()
    expect(page.locator(CHARTS)).to_have_count(0)
    screenshot(page, SCREENSHOTS / "sweep-cancelled.png")
    run_and_wait(page, run_button(page).click, timeout=RUN_TIMEOUT_MS)
    assert_no_exception(page)
    page.locator(CHARTS).first.wait_for(state="visible")

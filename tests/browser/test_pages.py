"""Every page in a real browser: it opens, shows its title and, after its main action,
a chart, and raises nothing; it asks no host but the app's own for anything (it works
offline), and its screenshots at a laptop's, a projector's and a phone's size are written
to test-artifacts/screenshots/<page>-<width>x<height>.png.

The pages are the router's own list (``ui.pages.available()``: the page files that exist),
so a page added to the app is tested here without editing this file. A page's main action
is its primary button with key ``<url_path>_run`` ("Train", "Run comparison", ...), pressed
when the page has one; the Runs page needs a stored run, so its test trains one first and
selects it.
"""

from __future__ import annotations

import os
import re
from urllib.parse import urlparse

import pytest
from browsertools import CHARTS, EXCEPTIONS, ROOT, SCREENSHOTS, open_page, run_and_wait, screenshot
from playwright.sync_api import expect

from ui.pages import available

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

PAGES = available()
SIZES = [(1280, 800), (1920, 1080), (390, 844)]  # laptop, projector, phone
DEFAULT = "train"  # the router's default page, served at "/"
RUN_TIMEOUT_MS = 180_000  # a page's main action may train several models


def url_of(url_path: str) -> str:
    return "" if url_path == DEFAULT else url_path


def assert_no_exception(page) -> None:
    errors = page.locator(EXCEPTIONS)
    if errors.count():
        pytest.fail("the page shows an exception:\n" + "\n---\n".join(errors.all_inner_texts()))


def press_run(page, url_path: str) -> bool:
    """Press the page's main button (key ``<url_path>_run``) if it has one."""
    button = page.locator(f".st-key-{url_path}_run").get_by_role("button")  # skips hidden copies
    if not button.count():
        return False
    expect(button).to_be_enabled()
    run_and_wait(page, button.click, timeout=RUN_TIMEOUT_MS)
    return True


def select_first_row(page, table) -> None:
    """Tick the first row of a multi-row-selection dataframe (a canvas: click its checkbox cell)."""
    table.scroll_into_view_if_needed()
    box = table.bounding_box()
    run_and_wait(page, lambda: page.mouse.click(box["x"] + 18, box["y"] + 35 + 17))


@pytest.mark.parametrize(("file", "title", "url_path"), PAGES, ids=[p[2] for p in PAGES])
def test_page_renders(page, app_url, file, title, url_path):
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    if url_path == "runs":  # the store of this test server starts empty
        open_page(page, app_url, url_of("train"))
        assert press_run(page, "train"), "the Train page has no Train button (key train_run)"
    open_page(page, app_url, url_of(url_path))
    assert_no_exception(page)
    expect(page.locator("h1").first).to_contain_text(title)
    if url_path == "runs":
        select_first_row(page, page.locator('[data-testid="stDataFrame"]').first)
    elif not page.locator(CHARTS).count():
        press_run(page, url_path)
    assert_no_exception(page)
    page.locator(CHARTS).first.wait_for(state="attached")
    assert_no_exception(page)
    screenshot(page, SCREENSHOTS / f"{url_path}.png")
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        page.locator(CHARTS).first.wait_for(state="attached")
        page.wait_for_timeout(300)  # charts follow the window's size
        screenshot(page, SCREENSHOTS / f"{url_path}-{width}x{height}.png")
    assert_no_exception(page)
    if url_path == DEFAULT and os.environ.get("UPDATE_SCREENSHOT") == "1":
        # the README's picture: the top of the Train page as it opens, not the whole long page
        page.set_viewport_size({"width": 1400, "height": 1000})
        page.wait_for_timeout(300)
        page.screenshot(path=str(ROOT / "docs" / "screenshot.png"))
    # offline-safe: every request went to the app's own server (or stayed in the page)
    own = urlparse(app_url).netloc
    elsewhere = [u for u in requests if urlparse(u).scheme in ("http", "https", "ws", "wss")
                 and urlparse(u).netloc != own]
    assert not elsewhere, f"the page asked other hosts: {sorted(set(elsewhere))[:5]}"


def test_navigation_lists_every_page(page, app_url):
    open_page(page, app_url, "")
    expect(page).to_have_title(re.compile("Optimizer Lab"))  # the tab names the app
    links = page.locator('[data-testid="stSidebarNavLink"]')
    expect(links).to_have_count(len(PAGES))
    paths = {urlparse(h).path.strip("/") for h in links.evaluate_all("els => els.map(e => e.href)")}
    assert paths == {url_of(p[2]) for p in PAGES}


@pytest.mark.skipif(not (ROOT / "app_pages" / "compare.py").is_file(), reason="no Compare page yet")
def test_compare_trains_the_chosen_optimizers(page, app_url):
    open_page(page, app_url, "compare")
    chooser = page.locator(".st-key-compare_optimizers")
    tags = chooser.locator('[data-testid="stMultiSelectTagsContainer"] [data-tag]')
    before = tags.count()
    assert before >= 3, "the Compare page should start with several optimizers chosen"
    # keep the first two: a different set, and a quick run
    for _ in range(before - 2):
        run_and_wait(page, tags.last.get_by_role("button", name=re.compile(r"^Remove ")).click)
    expect(tags).to_have_count(2)
    run = page.get_by_role("button", name=re.compile(r"^(Train|Run comparison)$"))
    run_and_wait(page, run.click, timeout=RUN_TIMEOUT_MS)
    assert_no_exception(page)
    tab = page.get_by_role("tab", name="Leaderboard")
    if tab.count():
        tab.click()
    board = page.locator('[data-testid="stDataFrame"], [data-testid="stTable"]').first
    expect(board).to_be_visible()
    screenshot(page, SCREENSHOTS / "compare-leaderboard.png")

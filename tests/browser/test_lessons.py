"""Lesson links in a real browser, each opened in a fresh browser context (a new student).

``/lessons?lesson=<id>`` must show the lesson's explanation and draw its figure;
``/<page>?lesson=<id>`` must load the lesson into that page and run it.
"""

from __future__ import annotations

import pytest
from browsertools import CHARTS, EXCEPTIONS, SCREENSHOTS, open_page, screenshot
from playwright.sync_api import expect

from engine import lessons

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

RUN_TIMEOUT_MS = 180_000  # a lesson not trained yet trains its runs first

# one lesson of each kind of figure: paths on a surface, a race, a batch-size table, a contrast
LESSON_IDS = ["momentum-escapes", "adam-l2-vs-adamw", "sgd-minibatch-batch", "early-stopping"]


def assert_no_exception(page) -> None:
    errors = page.locator(EXCEPTIONS)
    if errors.count():
        pytest.fail("the page shows an exception:\n" + "\n---\n".join(errors.all_inner_texts()))


def first_sentence(text: str) -> str:
    return text.split(". ")[0]


@pytest.mark.parametrize("lesson_id", LESSON_IDS)
def test_lesson_link_opens_the_lesson(page, app_url, lesson_id):
    lesson = lessons.get(lesson_id)
    open_page(page, app_url, f"lessons?lesson={lesson_id}")
    assert_no_exception(page)
    expect(page.locator("h1").first).to_contain_text("Lessons")
    main = page.locator('[data-testid="stMain"]')
    expect(main.get_by_role("heading", name=lesson.title)).to_be_visible()
    expect(main.get_by_text(first_sentence(lesson.explanation))).to_be_visible()
    # the card speaks to students, not to the app's developers
    expect(main.get_by_text("The figure below shows it happen")).to_be_visible()
    assert "automatic check" not in main.inner_text()
    page.locator(CHARTS).first.wait_for(state="visible", timeout=RUN_TIMEOUT_MS)
    assert_no_exception(page)
    # the open lesson is marked in the list, and the link can be shared as it is
    assert f"lesson={lesson_id}" in page.url
    screenshot(page, SCREENSHOTS / f"lesson-{lesson_id}.png")


def test_a_locked_lesson_link_hides_the_list(page, app_url):
    open_page(page, app_url, "lessons?lesson=ravine&hide=picker")
    assert_no_exception(page)
    expect(page.get_by_text(first_sentence(lessons.get("ravine").explanation))).to_be_visible()
    expect(page.locator(".st-key-lessons_open\\.ravine")).to_have_count(0)
    page.locator(CHARTS).first.wait_for(state="visible")


def test_a_lesson_link_to_its_page_loads_and_runs_it(page, app_url):
    lesson = lessons.get("adam-l2-vs-adamw")
    open_page(page, app_url, f"compare?lesson={lesson.id}&hide=optimizers")
    assert_no_exception(page)
    expect(page.locator("h1").first).to_contain_text("Compare optimizers")
    expect(page.get_by_text(f"Lesson: {lesson.title}")).to_be_visible()
    expect(page.locator(".st-key-compare_optimizers")).to_have_count(0)  # hidden by the link
    page.locator(CHARTS).first.wait_for(state="visible", timeout=RUN_TIMEOUT_MS)
    assert_no_exception(page)
    assert "lesson=" not in page.url and "optimizers=adam" in page.url  # the page's own form
    screenshot(page, SCREENSHOTS / f"lesson-{lesson.id}-compare-page.png")

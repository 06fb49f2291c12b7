"""The Lessons page and lesson links: the list, opening a lesson, ``?lesson=`` on every
page, ``?hide=``, free batch sizes on the Modes page, and the warm-up."""

from __future__ import annotations

import threading

import pytest
import streamlit as st
from apptools import ROOT, charts, count_train_calls, no_exception, page, series, table, texts
from streamlit.testing.v1 import AppTest

from engine import lessons
from ui import cache
from ui import lessons as ui_lessons
from ui import links as ui_links

# the column holding a lesson's run labels in its charts
SERIES = {"playground": "label", "compare": "run", "train": "run", "modes": "batch size"}
ONE_OF_EACH = ["momentum-escapes", "adam-l2-vs-adamw", "sgd-minibatch-batch", "early-stopping"]


def labels_of(lesson: lessons.Lesson) -> set[str]:
    if lesson.page == "playground":
        return {r["label"] for r in lesson.setup["runs"]}
    return {label for label, _, _ in lessons.jobs(lesson)}


def lesson_charts(at: AppTest, lesson: lessons.Lesson) -> list:
    """The charts whose series are exactly the lesson's runs."""
    want = labels_of(lesson)
    return [c for c in charts(at) if series(c, SERIES[lesson.page]) == want]


def shows(at: AppTest, lesson: lessons.Lesson) -> None:
    """The lesson is open: its title, slide, explanation, claim and a chart of its runs."""
    no_exception(at)
    assert at.header[0].value == lesson.title
    assert lesson.slide in texts(at.caption)
    body = texts(at.markdown)
    assert lesson.explanation in body and lesson.claim in body
    assert lesson_charts(at, lesson), f"no chart of {sorted(labels_of(lesson))}"


def widget_keys(at: AppTest) -> set[str]:
    kinds = ("selectbox", "multiselect", "text_input", "number_input", "select_slider",
             "slider", "toggle", "radio", "button")
    return {w.key for kind in kinds for w in getattr(at, kind)}


def router() -> AppTest:
    return AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)


# -- the Lessons page ----------------------------------------------------------------


def test_lists_every_lesson_by_topic_and_opens_the_first():
    at = page("lessons").run()
    no_exception(at)
    assert at.title[0].value == "Lessons"
    groups = at.sidebar.expander
    assert [g.label.rsplit(" (", 1)[0] for g in groups] == list(lessons.by_topic())
    for group, items in zip(groups, lessons.by_topic().values(), strict=True):
        assert [b.key for b in group.button] == [f"lessons_open.{x.id}" for x in items]
        assert [b.label for b in group.button] == [x.title for x in items]
        for x in items:  # each with its deck and slide
            assert f"Deck {x.deck_code} · {x.slide}" in texts(group.caption)
    listed = [b.key.split(".", 1)[1] for b in at.sidebar.button if b.key.startswith("lessons_open.")]
    assert sorted(listed) == sorted(lessons.LESSONS)
    first = next(iter(lessons.by_topic().values()))[0]
    shows(at, first)  # a figure without asking for one
    assert at.query_params["lesson"] in (first.id, [first.id])


@pytest.mark.parametrize("lesson_id", ONE_OF_EACH)
def test_a_lesson_link_opens_the_lesson(lesson_id):
    lesson = lessons.get(lesson_id)
    at = page("lessons")
    at.query_params["lesson"] = lesson_id
    at.run()
    shows(at, lesson)
    assert at.button(key=f"lessons_open.{lesson_id}").proto.type == "primary"  # marked in the list
    # links to the lesson's own page (plain links: this page runs without the router here)
    links = [m.value for m in at.markdown if m.value.startswith("[Open ")]
    assert len(links) == max(1, len(ui_links.run_labels(lesson)))
    path = "" if lesson.page == "train" else lesson.page
    assert all(f"](/{path}?lesson={lesson_id}" in link for link in links)
    # and the links to share
    codes = [c.value for c in at.code]
    assert f"/lessons?lesson={lesson_id}" in codes
    assert f"/lessons?lesson={lesson_id}&hide=picker" in codes
    assert any(c.startswith(f"/{path}?lesson={lesson_id}") for c in codes)


def test_the_open_button_opens_a_lesson():
    at = page("lessons").run()
    at.button(key="lessons_open.no-free-lunch-circles").click().run()
    lesson = lessons.get("no-free-lunch-circles")
    shows(at, lesson)
    assert at.query_params["lesson"] in (lesson.id, [lesson.id])
    board = table(at, "best val loss")
    assert list(board["run"])[0] == "SGD + momentum (α = 0.1, μ = 0.9)"  # the claim's ranking
    assert set(board["seeds"]) == {3}
    at.button(key="lessons_next").click().run()
    order = [x.id for x in ui_lessons.ordered()]
    shows(at, lessons.get(order[order.index(lesson.id) + 1]))  # the next lesson in the list


def test_a_playground_lesson_replays_its_paths():
    at = page("lessons")
    at.query_params["lesson"] = "too-much-momentum"
    at.run()
    at.slider(key="lessons_step").set_value(10).run()
    no_exception(at)
    surface = next(c for c in charts(at) if "x" in c[1] and "step" in c[1] and "f" in c[1])
    assert surface[1]["step"].max() <= 10
    assert at.query_params["step"] in ("10", ["10"])
    at.button(key="lessons_open.ravine").click().run()  # another lesson starts at its end
    assert at.slider(key="lessons_step").value == lessons.get("ravine").setup["steps"]
    assert "step" not in at.query_params
    shared = page("lessons")  # a link to a step of a lesson
    shared.query_params = {"lesson": "too-much-momentum", "step": "10"}
    shared.run()
    assert shared.slider(key="lessons_step").value == 10


def test_an_unknown_lesson_warns_and_shows_the_list():
    at = page("lessons")
    at.query_params = {"lesson": "no-such-lesson", "hide": "picker"}
    at.run()
    no_exception(at)
    assert [w.value for w in at.warning] == [
        "Unknown lesson `no-such-lesson`; showing the list of lessons."
    ]
    assert len(at.sidebar.button) >= len(lessons.LESSONS)  # the list, even with hide=picker
    shows(at, next(iter(lessons.by_topic().values()))[0])


def test_hide_picker_locks_the_lesson():
    at = page("lessons")
    at.query_params = {"lesson": "ravine", "hide": "picker"}
    at.run()
    shows(at, lessons.get("ravine"))
    keys = {b.key for b in at.button}
    assert not any(k.startswith("lessons_open.") for k in keys)
    assert "lessons_next" not in keys and "lessons_prev" not in keys


def test_warmed_lessons_train_nothing(monkeypatch):
    lessons.warm(cache.store())  # the app's own store (this test's data folder)
    calls = count_train_calls(monkeypatch)
    at = page("lessons").run()
    for lesson in lessons.LESSONS.values():
        if lesson.page != "playground":  # paths are traced, not trained
            at.button(key=f"lessons_open.{lesson.id}").click().run()
            shows(at, lesson)
    assert calls == []


def test_opening_a_lesson_trains_it_once(monkeypatch):
    calls = count_train_calls(monkeypatch)
    at = page("lessons")
    at.query_params["lesson"] = "zero-init-symmetry"
    at.run()
    shows(at, lessons.get("zero-init-symmetry"))
    assert len(calls) == 2
    stored = cache.store().list()
    assert set(stored["label"]) == {
        lessons.store_label(lessons.get("zero-init-symmetry"), label)
        for label in ("Zero init", "Xavier init")
    }
    again = page("lessons")  # another student
    again.query_params["lesson"] = "zero-init-symmetry"
    again.run()
    no_exception(again)
    assert len(calls) == 2


def test_the_lessons_page_runs_under_the_router():
    at = router().run()
    at.switch_page("app_pages/lessons.py").run()
    no_exception(at)
    assert at.title[0].value == "Lessons"
    assert [p.proto.label for p in at.get("page_link")] == ["Open in Playground"]


# -- lesson links on the lessons' own pages ------------------------------------------------


def test_a_compare_link_loads_the_lesson_and_runs_it(monkeypatch):
    lesson = lessons.get("adam-l2-vs-adamw")
    at = page("compare")
    at.query_params = {"lesson": lesson.id, "hide": "seeds"}
    at.run()
    no_exception(at)
    assert at.multiselect(key="compare_optimizers").value == ["adam", "adam#2", "adamw"]
    assert at.slider(key="compare_opt.adam#2.weight_decay").value == 0.1
    assert at.slider(key="compare_opt.adam.weight_decay").value == 0.0
    assert f"Lesson: {lesson.title}" in texts(at.info)
    assert not [n for n in at.number_input if n.key == "compare_seeds"]  # hide= still applies
    assert charts(at)  # it ran without a click
    assert "lesson" not in at.query_params and at.query_params["hide"] in ("seeds", ["seeds"])
    # the runs are the lesson's: the Lessons page reads them back
    calls = count_train_calls(monkeypatch)
    shows(page_with(lesson.id), lesson)
    assert calls == []


def page_with(lesson_id: str) -> AppTest:
    at = page("lessons")
    at.query_params["lesson"] = lesson_id
    return at.run()


def test_a_train_link_picks_one_run():
    at = page("train")
    at.query_params = {"lesson": "exploding-gradients-clipping", "run": "2"}
    at.run()
    no_exception(at)
    assert at.number_input(key="train_clip_norm").value == 0.0
    assert at.number_input(key="train_opt.sgd.lr").value == 0.3
    assert "No clipping" in texts(at.info)
    assert "Diverged" in texts(at.error)  # it ran, and diverged as the lesson says
    bad = page("train")
    bad.query_params = {"lesson": "exploding-gradients-clipping", "run": "7"}
    bad.run()
    no_exception(bad)
    assert any("URL parameter run (7) was ignored" in w.value for w in bad.warning)
    assert bad.number_input(key="train_clip_norm").value == 1.0


def test_a_modes_link_loads_any_batch_size():
    at = page("modes")
    at.query_params = {"lesson": "batch-size-timing"}
    at.run()
    no_exception(at)
    assert at.multiselect(key="modes_sizes").value == ["16", "17", "20", "100", "128", "1000"]
    assert table(at, "batch size")["batch size"].tolist() == [16, 17, 20, 100, 128, 1000]


def test_a_playground_link_with_per_path_schedules_opens_one_path():
    at = page("playground")
    at.query_params = {"lesson": "lr-decay-too-fast-too-slow", "run": "2"}
    at.run()
    no_exception(at)
    assert at.multiselect(key="playground_optimizers").value == ["gd"]
    assert at.selectbox(key="playground_path_schedule").value == "exponential"
    assert "K = 0.95" in texts(at.info)


def test_every_lesson_link_opens_the_stored_runs(monkeypatch):
    """Each page builds exactly the lesson's configurations: after a warm-up nothing trains."""
    lessons.warm(cache.store())
    calls = count_train_calls(monkeypatch)
    for lesson in lessons.LESSONS.values():
        for run in range(max(1, len(ui_links.run_labels(lesson)))):
            at = page(lesson.page)
            at.query_params = {"lesson": lesson.id, "run": str(run + 1)}
            at.run()
            no_exception(at)
            assert not at.error or lesson.id == "exploding-gradients-clipping", lesson.id
            assert charts(at), lesson.id
    assert calls == []


def test_a_link_to_another_page_goes_to_the_lessons_page():
    at = router()
    at.query_params["lesson"] = "ravine"  # a Playground lesson, opened at / (Train)
    at.run()
    no_exception(at)
    assert at.title[0].value == "Playground"
    assert at.multiselect(key="playground_optimizers").value == ["gd", "momentum"]
    assert [p.proto.label for p in at.get("page_link")] == ["Back to the lesson"]


def test_an_unknown_lesson_on_a_page_warns():
    at = page("compare")
    at.query_params = {"lesson": "nope"}
    at.run()
    no_exception(at)
    assert any("Unknown lesson `nope`" in w.value for w in at.warning)
    assert "lesson" not in at.query_params


# -- hide= on every page ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "hide", "gone", "kept"),
    [
        ("train", "optimizer", "train_optimizer", "train_opt.adam.lr"),
        ("train", "model,advanced", "train_hidden", "train_dataset"),
        ("compare", "optimizers,data", "compare_optimizers", "compare_epochs"),
        ("modes", "sizes,budget", "modes_sizes", "modes_optimizer"),
        ("playground", "surface,steps", "playground_surface", "playground_optimizers"),
        ("runs", "search", "runs_search", None),
    ],
)
def test_hide_removes_controls(name, hide, gone, kept):
    at = page(name)
    at.query_params = {"hide": hide}
    at.run()
    no_exception(at)
    keys = widget_keys(at)
    assert gone not in keys
    if kept:
        assert kept in keys


def test_a_hidden_group_leaves_no_empty_heading():
    at = page("train")
    at.query_params = {"hide": "model,budget,advanced"}
    at.run()
    no_exception(at)
    headings = [h.value for h in at.sidebar.subheader]
    assert "Model" not in headings and "Budget" not in headings
    assert {"Data", "Optimizer", "Mode"} <= set(headings)
    assert not [e for e in at.sidebar.expander if "stopping" in e.label]
    assert "train_hidden" not in widget_keys(at)
    assert at.query_params["hide"] in ("model,budget,advanced", ["model,budget,advanced"])


# -- the Modes page takes any batch size ------------------------------------------------


def test_modes_accepts_any_whole_batch_size():
    at = page("modes")
    at.query_params = {"dataset": "iris", "hidden": "4", "epochs": "1", "sizes": "1,full"}
    at.run()
    at.multiselect(key="modes_sizes").set_value(["17", "abc", "0", "full"]).run()
    no_exception(at)
    errors = texts(at.error)
    assert "**Batch sizes**: “abc” is not a whole number" in errors and "“0”" in errors
    assert at.query_params["sizes"] in ("17,full", ["17,full"])
    at.button(key="modes_run").click().run()
    assert table(at, "batch size")["batch size"].tolist()[0] == 17


# -- the warm-up ------------------------------------------------------------------------


def test_the_warm_up_starts_once_per_server_when_asked(monkeypatch):
    started = []
    done = threading.Event()

    def fake_warm(runs, jobs=1, lessons=None):
        started.append(runs.store.path)
        done.set()
        return 0

    monkeypatch.setattr(lessons, "warm", fake_warm)
    monkeypatch.delenv(cache.WARM_ENV, raising=False)
    page("lessons").run()
    assert not done.wait(0.2) and started == []  # off by default
    monkeypatch.setenv(cache.WARM_ENV, "1")
    page("lessons").run()
    page("compare").run()  # another page, another session: the same server process
    assert done.wait(10)
    assert started == [cache.store().path]
    st.cache_resource.clear()  # a new server process warms again

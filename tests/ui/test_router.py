"""The router: one navigation over the page files that exist."""

from apptools import ROOT, no_exception
from streamlit.testing.v1 import AppTest

from ui import pages


def test_router_opens_the_train_page():
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60).run()
    no_exception(at)
    assert at.title[0].value == "Train"


def test_pages_list_only_existing_files(monkeypatch, tmp_path):
    assert [p[2] for p in pages.PAGES][:5] == ["train", "compare", "modes", "playground", "runs"]
    for file, _, _ in pages.available():
        assert (ROOT / file).is_file()
    monkeypatch.setattr(pages, "ROOT", tmp_path)
    (tmp_path / "app_pages").mkdir()
    (tmp_path / "app_pages" / "train.py").write_text("")
    assert [p[2] for p in pages.available()] == ["train"]


def test_every_page_opens_through_the_router():
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60).run()
    for file, title, _ in pages.available():
        at.switch_page(file).run()
        no_exception(at)
        assert at.title[0].value == title

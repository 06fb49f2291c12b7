"""Modes & batch size page: one row per batch size, curves on three x-axes."""

from apptools import charts, no_exception, page, series, table


def test_defaults_render():
    at = page("modes").run()
    no_exception(at)
    assert at.multiselect(key="modes_sizes").value == ["1", "16", "32", "64", "128", "256", "full"]
    assert at.selectbox(key="modes_optimizer").value == "sgd"


def test_three_batch_sizes_give_three_rows():
    at = page("modes")
    at.query_params = {"dataset": "iris", "hidden": "8", "epochs": "2", "sizes": "1,16,full"}
    at.run()
    at.selectbox(key="modes_optimizer").set_value("momentum").run()
    at.button(key="modes_run").click().run()
    no_exception(at)
    rows = table(at, "batch size")
    assert len(rows) == 3
    assert rows["batch size"].tolist()[:2] == [1, 16]
    full = rows["batch size"].iloc[2]
    assert full > 16
    assert rows["updates / epoch"].tolist() == [full, -(-full // 16), 1]
    assert (rows["time / epoch (ms)"] > 0).all()
    assert rows["epochs to target"].dtype.name == "Int64"  # whole epochs; an unreached one is empty
    assert (rows["samples / s"].iloc[:2] > 0).all()
    curves = [c for c in charts(at) if "val_loss" in c[1]]
    assert len(curves) == 3  # vs epochs, updates, wall time
    assert series(curves[0], "batch size") == {"b=1", "b=16", "full"}
    legend = curves[0][0]["layer"][0]["encoding"]["color"]
    assert legend["scale"]["domain"] == ["b=1", "b=16", "full"]  # by size, not alphabetical


def test_url_round_trip():
    at = page("modes")
    at.query_params = {"sizes": "8,full", "target": "0.7"}
    at.run()
    assert at.multiselect(key="modes_sizes").value == ["8", "full"]
    assert at.number_input(key="modes_target").value == 0.7
    bad = page("modes")
    bad.query_params = {"sizes": "8,huge"}
    bad.run()
    no_exception(bad)
    assert any("`sizes`" in w.value for w in bad.warning)


def test_text_from_a_link_is_shown_as_plain_text_not_markdown():
    """A typed batch size that is Markdown (a link, an image) is shown escaped, never rendered."""
    evil = "![x](http://evil.example/a.png)"
    at = page("modes")
    at.query_params = {"sizes": f"16,{evil}"}
    at.run()
    shown = " ".join(e.value for e in at.error) + " ".join(w.value for w in at.warning)
    assert "evil" in shown  # it is reported ...
    assert evil not in shown and "](http" not in shown  # ... but never as live Markdown

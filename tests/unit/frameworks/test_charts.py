"""The assessment figures: titles, axis titles, hover values, the external reference lines labelled as such."""

from __future__ import annotations

from crm_core.frameworks import charts, rubrics, scoring


def qci_card():
    r = rubrics.rubric("qci")
    return r, scoring.score(r, scoring.parse_answers(r, {"ap1": {"intention": 4, "reality": 2}, "pr1": {"reality": 3}}))


def test_qci_radar_has_intention_reality_and_external_references():
    r, card = qci_card()
    fig = charts.radar_figure(r, card.sections)
    names = [t.name for t in fig.data]
    assert names[:2] == ["Intention", "Reality"]
    refs = names[2:]
    assert refs == ["External reference: database average 35%", "External reference: best assessed 67%",
                    "External reference: worst assessed 17%"]
    assert list(fig.data[2].r) == [35.0] * 9  # eight areas, closed
    reality = list(fig.data[1].r)
    assert reality[0] == 50.0 and reality[1] == 75.0 and reality[2] is None  # 2/4, 3/4, not scored
    assert fig.layout.title.text == "QCI scorecard" and "best practice" in fig.layout.title.subtitle.text
    assert any("Radius" in a.text for a in fig.layout.annotations)
    assert all(t.hovertemplate for t in fig.data)


def test_gartner_radar_is_on_maturity_levels_without_references():
    r = rubrics.rubric("gartner")
    card = scoring.score(r, scoring.parse_answers(r, {"vision": {"current": 2, "target": 4}}))
    fig = charts.radar_figure(r, card.sections)
    assert [t.name for t in fig.data] == ["Target", "Current"]
    assert fig.data[1].r[0] == 2 and tuple(fig.layout.polar.radialaxis.range) == (0, 5)


def test_change_figure_has_axis_titles_and_signed_bars():
    r, before = qci_card()
    now = scoring.score(r, scoring.parse_answers(r, {"ap1": {"reality": 4}, "pr1": {"reality": 1}}))
    fig = charts.change_figure(r, scoring.compare(now, before), before_label="#1", now_label="#2")
    bar = fig.data[0]
    labels = list(bar.y)
    assert labels[-1] == "Analysis & planning" and labels[0] == "Overall"
    assert bar.x[-1] == 50.0 and bar.x[-2] == -50.0  # 2/4 -> 4/4; 3/4 -> 1/4
    assert fig.layout.xaxis.title.text and fig.layout.yaxis.title.text == "Area"
    assert "#1 → #2" in fig.layout.title.subtitle.text

"""The report in a real headless browser (Debian's chromium driven by Playwright; nothing downloaded).

The page must load with the network off, log no console errors, redraw when the team/group
selector changes, follow the period brush (charts and DORA stat panels alike), sort, search and
download its team table, and print.
A screenshot and a PDF print are kept under ``test-artefacts/`` (git-ignored).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from ctssw.report import write_interactive_report

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTEFACTS = Path(__file__).resolve().parents[2] / "test-artefacts"


@pytest.fixture(scope="module")
def page(report_inputs, store_path, tmp_path_factory):
    from playwright.sync_api import sync_playwright

    from ctssw.pipeline import attribute_tools, tools_panel_from_store

    assert Path(CHROMIUM).exists(), "Debian's chromium is needed: `make browser` installs it"
    p, _ = tools_panel_from_store(store_path, ["assistant"])
    tools = attribute_tools(p, ["assistant"], method="fe", decompose=True)  # each tool's effect and the change's waterfall
    path = write_interactive_report(tmp_path_factory.mktemp("report") / "report.html", **report_inputs["kw"], tools=tools)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        ctx = browser.new_context(offline=True, viewport={"width": 1280, "height": 900}, accept_downloads=True)
        requests: list[str] = []
        ctx.route("**/*", lambda route: (requests.append(route.request.url), route.continue_() if route.request.url.startswith(("file:", "data:", "blob:")) else route.abort()))
        pg = ctx.new_page()
        errors: list[str] = []
        pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto(path.as_uri())
        pg.wait_for_function("window.ctsswReady === true", timeout=60_000)
        yield pg, errors, requests
        browser.close()


def test_loads_offline_without_console_errors(page):
    pg, errors, requests = page
    assert errors == []
    assert [u for u in requests if not u.startswith(("file:", "data:", "blob:"))] == []
    charts = ["chart-forest", "chart-cts", "chart-df", "chart-lt", "chart-cfr", "chart-rec", "chart-rw",
              "chart-adoption", "chart-event", "chart-drivers", "chart-waterfall", "chart-tools", "chart-explain"]
    if pg.evaluate("JSON.parse(document.getElementById('ctssw-data').textContent).waterfall === null"):
        # a value withheld (the estimate is not credible): the section says why in place of the chart
        assert pg.is_visible("#missing-waterfall") and not pg.is_visible("#chart-waterfall")
        assert "not credible" in pg.inner_text("#missing-waterfall")
        charts.remove("chart-waterfall")
    for chart in charts:
        assert pg.evaluate(f"document.getElementById('{chart}').data.length") >= 1, chart
        title = pg.evaluate(f"(document.getElementById('{chart}').layout.xaxis.title || {{}}).text || ''")
        ytitle = pg.evaluate(f"(document.getElementById('{chart}').layout.yaxis.title || {{}}).text || ''")
        assert title or ytitle, f"{chart} has no axis title"
    assert "cannot" in pg.inner_text("#headline") or "raised" in pg.inner_text("#headline") or "lowered" in pg.inner_text("#headline")
    ticks = pg.evaluate("Array.from(document.querySelectorAll('.xtick text, .ytick text, .y2tick text')).map(t => t.textContent)")
    assert ticks and not [t for t in ticks if re.fullmatch(r"[−-]\$?0(\.0+)?%?", t)], "a tick reads -0"
    # the decomposition: observed start, trend, the tool, composition, cost, residual, observed end, with intervals in hover
    wf = pg.evaluate("document.getElementById('chart-explain').data[0]")
    assert wf["measure"][0] == "absolute" and wf["measure"][-1] == "total" and len(wf["x"]) == 7
    assert any("95% CI" in h for h in wf["customdata"]) and pg.inner_text("#reading-explain").startswith("What this shows:")
    tiers = pg.locator("#stats .tier").all_inner_texts()
    assert tiers and set(tiers) <= {"Elite", "High", "Medium", "Low"}


def test_selector_changes_the_charts(page):
    pg, errors, _ = page
    before = pg.evaluate("JSON.stringify(document.getElementById('chart-cts').data[1].y)")
    df_before = pg.evaluate("JSON.stringify(document.getElementById('chart-df').data[0].y)")
    option = pg.evaluate("Array.from(document.querySelectorAll('#group option')).map(o => o.value).find(v => v.startsWith('team:'))")
    pg.select_option("#group", option)
    assert pg.get_attribute("body", "data-selected") == option
    assert pg.evaluate("JSON.stringify(document.getElementById('chart-cts').data[1].y)") != before
    assert pg.evaluate("JSON.stringify(document.getElementById('chart-df').data[0].y)") != df_before
    label = pg.evaluate(f"document.querySelector('#group option[value=\"{option}\"]').textContent")
    assert label in pg.inner_text("#stats-note")
    pg.select_option("#group", "org")
    assert errors == []


def test_period_brush_moves_every_time_chart(page):
    pg, errors, _ = page
    x = pg.evaluate("document.getElementById('chart-cts').data[0].x")
    lo, hi = x[len(x) // 3], x[2 * len(x) // 3]
    pg.evaluate(f"Plotly.relayout('chart-cts', {{'xaxis.range': ['{lo}', '{hi}']}})")
    pg.wait_for_function(f"String(document.getElementById('chart-df').layout.xaxis.range[0]).startsWith('{lo}')")
    assert str(pg.evaluate("document.getElementById('chart-rw').layout.xaxis.range[1]")).startswith(hi)
    assert errors == []


def _stats(pg) -> dict[str, str]:
    labels = pg.locator("#stats .stat .t").all_inner_texts()
    return dict(zip(labels, pg.locator("#stats .stat .v").all_inner_texts(), strict=True))


def test_stat_panels_follow_the_brush_and_the_selector(page, report_inputs):
    from ctssw.report._data import series

    pg, errors, _ = page
    weekly = report_inputs["kw"]["weekly"]
    pg.select_option("#group", "org")
    pg.evaluate("Plotly.relayout('chart-cts', {'xaxis.autorange': true})")  # no period chosen (an earlier test brushed one)
    pg.wait_for_function("document.getElementById('stats-note').textContent.startsWith('Last 13 weeks')")
    data = pg.evaluate("JSON.parse(document.getElementById('ctssw-data').textContent).series.stats.org")
    start = _stats(pg)
    # with no period chosen: the last 13 weeks, the same values the server computed
    assert start["Deployment frequency"] == f"{data['deploy_freq']['value']:,.1f} per team-week"
    assert "Last 13 weeks" in pg.inner_text("#stats-note")
    x = pg.evaluate("document.getElementById('chart-cts').data[0].x")
    lo, hi = x[5], x[20]
    pg.evaluate(f"Plotly.relayout('chart-cts', {{'xaxis.range': ['{lo}', '{hi}']}})")
    pg.wait_for_function(f"document.getElementById('stats').getAttribute('data-period') === '{lo}..{hi}'")
    brushed = _stats(pg)
    assert brushed != start and f"Weeks {lo} to {hi} (the period brush)" in pg.inner_text("#stats-note")
    # the brushed value is the ratio of sums over exactly those weeks (the server's arithmetic on them)
    w = weekly[weekly["week"].between(lo, hi)]
    want = series(w, k=5, recent_weeks=1000)["stats"]["org"]
    assert brushed["Deployment frequency"] == f"{want['deploy_freq']['value']:,.1f} per team-week"
    assert brushed["Change failure rate"] == f"{100 * want['change_failure_rate']['value']:,.1f}%"
    tier = pg.locator("#stats .stat").first.locator(".tier").inner_text()
    assert tier == want["deploy_freq"]["tier"]
    # the selector: another team over the same period
    option = pg.evaluate("Array.from(document.querySelectorAll('#group option')).map(o => o.value).filter(v => v.startsWith('team:'))[1]")
    pg.select_option("#group", option)
    team = _stats(pg)
    assert team != brushed and f"Weeks {lo} to {hi}" in pg.inner_text("#stats-note")
    tw = w[w["team_id"] == option.split(":", 1)[1]]
    assert team["Deployment frequency"] == f"{tw['prod_deployments'].sum() / len(tw):,.1f} per team-week"
    # back to the whole period and the organisation: the panels return to the last 13 weeks
    pg.select_option("#group", "org")
    pg.evaluate("Plotly.relayout('chart-cts', {'xaxis.autorange': true})")
    pg.wait_for_function("document.getElementById('stats-note').textContent.startsWith('Last 13 weeks')")
    assert _stats(pg) == start
    assert errors == []


def test_team_table_sorts_searches_and_downloads(page, report_inputs):
    pg, errors, _ = page
    first = pg.locator("#team-table tbody tr").count()
    assert first == int((report_inputs["kw"]["teams"]["headcount"].fillna(0) >= 5).sum())
    pg.click("#team-table th:has-text('Builders')")
    pg.click("#team-table th:has-text('Builders')")
    col = [int(v.replace(",", "")) for v in pg.locator("#team-table tbody tr td:nth-child(2)").all_inner_texts()]
    assert col == sorted(col, reverse=True)
    nums = pg.locator("#team-table tbody td.num").all_inner_texts()
    assert nums and not [v for v in nums if re.search(r"\d[eE][+-]?\d|NaN|^-|^−0(\.0*)?%?$", v)]
    name = pg.locator("#team-table tbody tr td:first-child").first.inner_text()
    pg.fill("#team-search", name)
    assert pg.locator("#team-table tbody tr").count() >= 1
    with pg.expect_download() as dl:
        pg.click("#team-csv")
    text = Path(dl.value.path()).read_text()
    assert text.splitlines()[0].startswith("Team,Builders") and name in text
    pg.fill("#team-search", "")
    assert errors == []


def test_screenshot_and_print_are_kept(page):
    pg, errors, _ = page
    ARTEFACTS.mkdir(exist_ok=True)
    shot = ARTEFACTS / "report.png"
    pg.evaluate("window.scrollTo(0, 0)")
    pg.screenshot(path=str(shot), full_page=True)
    pg.emulate_media(media="print")
    assert pg.evaluate("getComputedStyle(document.querySelector('.controls')).display") == "none"
    pdf = ARTEFACTS / "report.pdf"
    pg.pdf(path=str(pdf), format="A4", print_background=True)
    pg.emulate_media(media="screen")
    assert shot.stat().st_size > 50_000 and pdf.read_bytes()[:4] == b"%PDF"
    assert errors == []

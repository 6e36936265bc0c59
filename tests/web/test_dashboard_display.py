"""How the dashboard writes what it shows, in a real Chromium against the real service: axes that
fit the data (an all-zero error rate is not drawn on a 0–10,000 % axis), Korean headers that
wrap between words, every date and time in the browser's own format (no raw ISO stamps beside
them), and trends that are the API's own figures."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from ..conftest import AUTH, LiveServer

pytestmark = pytest.mark.slow

PAGE = "/plugin-ai-analytics"
PLUGIN = "nab-ec2-cpu-24ae8d"  # trained, with anomalies (see conftest)


def open_view(page: Any, server: LiveServer, fragment: str = "") -> None:
    page.goto(server.url + PAGE + fragment)
    page.wait_for_function("window.dashboard && window.dashboard.ready")


def api(server: LiveServer) -> httpx.Client:
    return httpx.Client(base_url=server.url + "/api/plugin-ai-analytics", timeout=60, headers=AUTH)


# -- axes --------------------------------------------------------------------------------------

Y_AXIS = """(metric) => {
  const u = window.dashboard.view.charts[metric].u;
  return {min: u.scales.y.min, max: u.scales.y.max, labels: u.axes[1]._values || []};
}"""


def test_flat_and_all_zero_series_get_an_axis_that_fits_them(nab_server: LiveServer, new_page: Any) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    samples = [
        {
            "timestamp": (now - timedelta(minutes=5 * i)).isoformat(),
            "error_rate": 0.0,
            "cpu_percent": 12.5,
            "request_count": 100,
        }
        for i in range(36)
    ]
    with api(nab_server) as client:
        assert client.post("/collect-metrics/flat-plugin", json={"samples": samples}).status_code == 200
    page = new_page()
    open_view(page, nab_server, "#/plugin/flat-plugin")

    errors = page.evaluate(Y_AXIS, "error_rate")
    assert errors["min"] == 0 and 0 < errors["max"] <= 0.05, errors  # at most 5 %, not 0..100 (10,000 %)
    percents = [float(label.replace("%", "").replace(",", "").strip()) for label in errors["labels"] if label]
    assert percents and max(percents) <= 5, errors["labels"]

    for metric, value in (("cpu_percent", 12.5), ("request_count", 100)):
        axis = page.evaluate(Y_AXIS, metric)
        assert 0 <= axis["min"] < value < axis["max"], (metric, axis)
        assert axis["max"] - axis["min"] <= 0.5 * value, (metric, axis)  # the flat line is not lost at the bottom


def test_a_varying_series_keeps_its_axis_inside_the_physical_range(nab_server: LiveServer, new_page: Any) -> None:
    page = new_page()
    open_view(page, nab_server, f"#/plugin/{PLUGIN}")
    axis = page.evaluate(Y_AXIS, "cpu_percent")
    with api(nab_server) as client:
        history = client.get(f"/metrics-history/{PLUGIN}", params={"limit": 10000}).json()["samples"]
    values = [s["cpu_percent"] for s in history if s.get("cpu_percent") is not None]
    assert axis["min"] >= 0  # CPU is never negative, so neither is its axis
    assert axis["min"] <= min(values) and axis["max"] >= max(values) * 0.99


# -- Korean line breaks ------------------------------------------------------------------------

BROKEN_WORDS = """(selector) => {
  // Words whose characters lie on more than one line. A word runs to a space or past a slash
  // ("높음/중간/낮음" is three words, and a line may end after a slash).
  const broken = [];
  for (const cell of document.querySelectorAll(selector)) {
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const m of node.data.matchAll(/[^\\s\\/]+\\/?/g)) {
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
        if (lines.size > 1) broken.push(m[0]);
      }
    }
  }
  return broken;
}"""

WRAPPED_CELLS = """(selector) => [...document.querySelectorAll(selector)].filter((cell) => {
  const range = document.createRange();
  range.selectNodeContents(cell);
  return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size > 1;
}).length"""


@pytest.mark.parametrize("width", [1024, 800])
def test_korean_headers_wrap_between_words_not_inside_them(nab_server: LiveServer, new_page: Any, width: int) -> None:
    page = new_page(locale="ko-KR", width=width)
    open_view(page, nab_server)
    assert page.locator("h1").inner_text() == "전체 플러그인"
    assert page.evaluate(WRAPPED_CELLS, "#overview thead th") > 0  # the narrow screen does make them wrap
    assert page.evaluate(BROKEN_WORDS, "#overview thead th, #health-cards, .filters label") == []

    open_view(page, nab_server, f"#/plugin/{PLUGIN}")
    page.wait_for_function("document.querySelectorAll('#trends tbody tr').length > 0")
    page.locator("#accuracy table").wait_for()
    assert page.evaluate(BROKEN_WORDS, "#trends thead th, #accuracy thead th, .actions button, h2") == []


# -- dates and times ---------------------------------------------------------------------------

ISO_STAMP = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2})?")
STAMPED_SUGGESTION = {
    "plugin_id": PLUGIN,
    "suggestions": [
        {
            "title": "Find the error spike's cause",
            "priority": "Medium",
            "evidence": {
                "error_rate_before_pct": {
                    "value": 0.2,
                    "unit": "%",
                    "window": "2026-11-19T00:00:00+00:00 .. 2026-11-20T00:00:00+00:00",
                },
                "restarts_detected": ["2026-11-20T00:00:00+00:00"],
            },
            "expected_effect": [],
            "steps": ["Look at the deploy of 2026-11-20T00:00:00Z"],
        }
    ],
}
# The same instant (UTC) as each locale writes it, and the shape of its short date and time.
LOCALES = {
    "en-US": ("11/20/26, 12:00 AM", r"\d{1,2}/\d{1,2}/\d{2}, \d{1,2}:\d{2} [AP]M"),
    "en-GB": ("20/11/2026, 00:00", r"\d{2}/\d{2}/\d{4}, \d{2}:\d{2}"),
    "ko-KR": ("26. 11. 20. 오전 12:00", r"\d{2}\. \d{1,2}\. \d{1,2}\. (?:오전|오후) \d{1,2}:\d{2}"),
}


# Everything a person reads on the page: its text, and the tooltips and labels of its elements.
SHOWN_TEXT = """() => [document.querySelector('main').innerText,
  ...[...document.querySelectorAll('main [title], main [aria-label]')]
    .flatMap((el) => [el.getAttribute('title') || '', el.getAttribute('aria-label') || ''])].join('\\n')"""


def _plain(text: str) -> str:
    return text.replace("\u202f", " ").replace("\u00a0", " ")


@pytest.mark.parametrize("locale", list(LOCALES))
def test_dates_follow_the_browsers_locale_everywhere(nab_server: LiveServer, new_page: Any, locale: str) -> None:
    instant, shape = LOCALES[locale]
    page = new_page(locale=locale)
    page.route(
        "**/api/plugin-ai-analytics/suggestions-history/*",
        lambda route: route.fulfill(status=200, json=STAMPED_SUGGESTION),
    )
    open_view(page, nab_server, f"#/plugin/{PLUGIN}")
    page.wait_for_function("document.querySelectorAll('#anomalies li[data-event]').length > 0")
    page.locator("#suggestions article.suggestion").wait_for()
    page.locator("#accuracy table").wait_for()
    page.wait_for_function("document.querySelectorAll('#trends tbody tr').length > 0")

    caption = _plain(page.locator("#chart-cpu_percent [data-last]").inner_text())
    assert re.fullmatch(rf".+ · {shape}", caption), caption
    assert re.search(shape, _plain(page.locator("#p-samples").inner_text()))
    assert re.search(shape, _plain(page.locator("#anomalies li[data-event]").first.inner_text()))
    # Stamps inside the engines' own texts (evidence, steps, explanations) are written the same way.
    suggestion = _plain(page.locator("#suggestions article.suggestion").inner_text())
    assert f" .. {instant})" in suggestion and f"deploy of {instant}" in suggestion, suggestion

    shown = page.evaluate(SHOWN_TEXT)
    assert ISO_STAMP.findall(shown) == []
    assert re.findall(r"[+-]\d{2}:\d{2}\b", shown) == []  # nor a zone left over from one ("since …+00:00:")


# -- trends ------------------------------------------------------------------------------------


def _number(text: str) -> float:
    return float(_plain(text).replace(",", "").replace("+", "").replace("\u2212", "-").strip())


def test_the_7_day_trend_is_the_apis_slope_per_day(nab_server: LiveServer, new_page: Any) -> None:
    with api(nab_server) as client:
        trends = client.get(f"/analytics-summary/{PLUGIN}").json()["trends"]
    expected = trends["cpu_percent"]
    page = new_page()
    open_view(page, nab_server, f"#/plugin/{PLUGIN}")
    page.wait_for_function("document.querySelectorAll('#trends tbody tr').length > 0")
    row = page.locator("#trends tbody tr", has_text="CPU")
    headers = page.locator("#trends thead th").all_inner_texts()
    cells = row.locator("td").all_inner_texts()
    slope = _number(cells[headers.index("7-day trend / day")])
    assert slope == pytest.approx(expected["slope_per_day"], rel=0.01, abs=1e-9)
    peak = cells[headers.index("Daily peak (UTC)")]
    assert peak == f"{expected['daily_pattern']['peak_hour_utc']:02d}:00"

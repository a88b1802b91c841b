"""report.html: self-contained (charts inlined, no external links, no scripts), escaped, with the
settings, the summary and the failures; and it renders in headless Chromium."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
from PIL import Image

from llmgateway.compare.report import write_reports
from tests.compare.report_fixtures import MODELS, make_result
from tests.server.test_dashboard_browser import run_chromium

# matplotlib's tab10 orange: fast-expensive's colour in every chart, and nowhere else on the page.
ORANGE = (255, 127, 14)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The synthetic run's reports with charts, drawn once for the tests that only read them."""
    return write_reports(make_result(), tmp_path_factory.mktemp("report"))


def test_the_page_inlines_the_charts_and_links_nothing(written: list[Path]) -> None:
    page = written[-1].read_text(encoding="utf-8")
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    charts = [p for p in written if p.suffix == ".png"]
    assert [base64.b64decode(data) for data in images] == [p.read_bytes() for p in charts]
    assert not re.search(r"(?:src|href)=\"(?!data:)", page)
    assert "<script" not in page and "<link" not in page and "@import" not in page
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")


def test_the_page_has_settings_summary_and_escaped_failures(written: list[Path]) -> None:
    page = written[-1].read_text(encoding="utf-8")
    assert "<th>concurrency</th><td>4</td>" in page
    assert "<th>models</th><td>smollm2, fast-expensive, slow-cheap, broken</td>" in page
    assert page.count("<table>") == 5 and page.count("<th>bleu*</th>") == 1
    for model in MODELS:
        assert page.count(f'<td class="key">{model}</td>') == 5
    assert "upstream said 503 &lt;overloaded&gt; on try 0" in page and "<overloaded>" not in page
    failures = page.split("<h2>Failed calls</h2>")[1]
    assert failures.count("<li>") == 5 * 3 + 5  # broken: 3 distinct messages per suite; slow-cheap: 1
    assert "<h3>smollm2</h3>" not in failures


def test_without_charts_the_page_says_so(tmp_path: Path) -> None:
    write_reports(make_result(), tmp_path, charts=False)
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<img" not in page and "Charts were not drawn for this run." in page


def test_the_page_renders_in_headless_chromium(written: list[Path], tmp_path: Path) -> None:
    shot = tmp_path / "page.png"
    url = written[-1].as_uri()
    run_chromium(tmp_path / "profile", f"--screenshot={shot}", "--window-size=1400,6000", url)
    image = Image.open(shot).convert("RGB")
    assert image.size == (1400, 6000)
    colours = image.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 200  # text, tables and charts, not a blank page
    # The inlined charts were decoded and painted: their fast-expensive orange is on the screen.
    near = [count for count, rgb in colours if all(abs(a - b) <= 6 for a, b in zip(rgb, ORANGE, strict=True))]
    orange = sum(near)
    assert orange > 2_000


def test_nested_settings_are_one_line_per_entry(tmp_path: Path) -> None:
    result = make_result()
    result.settings["suites"] = {"qa": {"task": "qa", "items": 2, "source": "/x/qa.jsonl"}, "code": {"n": 3}}
    write_reports(result, tmp_path, charts=False)
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<th>suites</th><td>qa: task=qa, items=2, source=/x/qa.jsonl<br>code: n=3</td>" in page
    assert page.count("<th>suites</th>") == 1

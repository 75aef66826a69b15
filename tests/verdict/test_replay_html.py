"""`truthgate replay --html OUT.html EVIDENCE.json`: the report as one static page, run as a
user runs it, read back as a browser would see it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from tests.ui import scenes
from webhooks.verdict.judge import judge
from webhooks.verdict.report import render_report

DOCS_UI = Path(__file__).resolve().parents[2] / "docs" / "ui"
CHROMIUM = shutil.which("chromium")


class Page(HTMLParser):
    """Tags, classes and attributes of a page, and its text."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def count(self, tag: str, cls: str) -> int:
        return sum(t == tag and cls in (a.get("class") or "").split() for t, a in self.tags)


def replay(tmp_path: Path, doc: Any, *args: str) -> subprocess.CompletedProcess[str]:
    evidence = tmp_path / "evidence.json"
    evidence.write_text(json.dumps(doc))
    return subprocess.run(
        [sys.executable, "-m", "webhooks", "replay", *args, str(evidence)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_page_shows_the_verdict_findings_charts_and_intents(tmp_path: Path) -> None:
    doc = scenes.evidence(healthy=False)
    out = replay(tmp_path, doc, "--html", str(tmp_path / "report.html"))
    assert out.returncode == 0, out.stderr
    verdict = json.loads(out.stdout)  # the Verdict is still printed, as without --html
    assert verdict["verdict"] == "Degraded"
    html = (tmp_path / "report.html").read_text()
    page = Page(html)
    text = " ".join(page.text)
    assert "shop-web: Degraded" in " ".join(text.split())
    assert verdict["summary"] in text
    assert page.count("li", "finding") == len(verdict["findings"])
    assert [a["id"] for t, a in page.tags if t == "section"] == [
        "layer-declared",  # the regression began just after the sync's intent: the first link
        "layer-controller",
        "layer-runtime",
        "layer-behaviour",
    ]
    for cls in ("series", "verdict-band", "baseline-window", "change-marker"):
        assert sum(cls in (a.get("class") or "") for _, a in page.tags) == 2, cls
    assert "Regression" in text and "http_error_ratio up 4.1x" in text
    assert page.count("tr", "intent") == 1
    # One file, nothing to fetch and nothing to run; no probe URL, no object from the cluster.
    assert not [t for t, _ in page.tags if t in ("script", "link", "img", "iframe")]
    assert not any("src" in a or "href" in a for _, a in page.tags)
    assert "web.shop.svc" not in html


def test_text_from_the_evidence_is_escaped(tmp_path: Path) -> None:
    doc = scenes.evidence(healthy=False)
    doc["application"]["metadata"]["name"] = "<script>alert(1)</script>"
    verdict = judge(doc)
    verdict["findings"][0]["message"] = '<img src=x onerror="alert(2)">'
    html = render_report(doc, verdict)
    page = Page(html)
    assert not [t for t, _ in page.tags if t in ("script", "img")]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert '<img src=x onerror="alert(2)">' in " ".join(page.text)  # shown as text


def test_an_unwritable_output_is_a_one_line_error_and_writes_nothing(tmp_path: Path) -> None:
    out = replay(tmp_path, scenes.evidence(healthy=True), "--html", "/nonexistent/dir/r.html")
    assert out.returncode == 2
    assert "cannot write /nonexistent/dir/r.html" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert out.stdout == ""


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium")
def test_chromium_renders_the_page_without_scripts_or_network(tmp_path: Path) -> None:
    doc = scenes.evidence(healthy=False)
    page = tmp_path / "report.html"
    page.write_text(render_report(doc, judge(doc)))
    shot = tmp_path / "report.png"
    with tempfile.TemporaryDirectory() as profile:
        out = subprocess.run(
            [
                str(CHROMIUM),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                f"--user-data-dir={profile}",
                "--window-size=1150,1350",
                f"--screenshot={shot}",
                page.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
    assert out.returncode == 0, out.stderr[-2000:]
    assert shot.stat().st_size > 20_000  # a real picture, not a blank page
    if os.environ.get("TRUTHGATE_UI_SHOTS"):
        DOCS_UI.mkdir(exist_ok=True)
        shutil.copy(shot, DOCS_UI / "replay-report.png")

"""The HTML report of a real demo run, opened in real headless Chromium (Debian's `chromium`):
the failure and the subtests are on the page, and the page requests nothing."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytesseract
import pytest
from markupsafe import escape
from PIL import Image

from nixtest_tui.cli import main
from nixtest_tui.report import CSP, build_report

DATA = Path(__file__).parent.parent / "data" / "replay"
CHROMIUM = shutil.which("chromium")
OFFLINE_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
    "--host-resolver-rules=MAP * ~NOTFOUND", "--enable-logging=stderr", "--v=0",
]
needs_chromium = pytest.mark.skipif(CHROMIUM is None,
                                    reason="chromium is not installed (./dev installs it)")


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo-run")
    with tarfile.open(DATA / "demo-run.tar.xz") as archive:
        archive.extractall(out, filter="data")
    return out


@pytest.fixture(scope="module")
def report(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Written through the command line, as a CI step would."""
    target = tmp_path_factory.mktemp("report") / "report.html"
    assert main(["report", str(demo_dir), "-o", str(target)]) == 0
    return target


def chromium(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, *OFFLINE_FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()],
        capture_output=True, text=True, timeout=120, check=True)


def refused_requests(log: str) -> list[str]:
    """Chromium's console lines for requests the page's Content-Security-Policy blocked."""
    return [line for line in log.splitlines() if "violates the following Content Security" in line]


@needs_chromium
def test_the_failure_and_subtests_are_in_the_rendered_page(report: Path,
                                                           tmp_path: Path) -> None:
    run = chromium(report, tmp_path / "profile", "--virtual-time-budget=5000", "--dump-dom")
    dom = run.stdout
    assert 'data-rendered="yes"' in dom, "the page's script did not run to its load handler"
    assert re.search(r'id="result">failed<', dom)
    statement = re.search(r'id="failing-statement">([^<]*)<', dom)
    assert statement and statement.group(1) == (
        'server.succeed("systemctl start broken.service")')
    assert "RequestedAssertionFailed: command `systemctl start broken.service` failed" in dom
    for name in ("the echo service comes up", "a flaky step, retried", "the broken unit starts"):
        assert f"<td>{name}</td>" in dom
    assert len(re.findall(r'<figure class="film">', dom)) > 3
    assert len(re.findall(r'<img src="data:image/png;base64,', dom)) > 3


@needs_chromium
def test_nothing_leaves_the_file(report: Path, tmp_path: Path) -> None:
    html = report.read_text()
    assert f'http-equiv="Content-Security-Policy" content="{escape(CSP)}"' in html
    urls = re.findall(r'(?:src|href)="([^"]*)"|url\(([^)]*)\)', html)
    assert all((a or b).startswith(("data:", "#")) for a, b in urls)
    run = chromium(report, tmp_path / "profile", "--virtual-time-budget=5000", "--dump-dom")
    assert 'data-resources="0"' in run.stdout  # the Resource Timing API saw no fetch
    assert refused_requests(run.stderr) == []
    # the same check catches a page that does try to fetch something
    leaky = tmp_path / "leaky.html"
    leaky.write_text(html.replace("</body>", '<img src="http://127.0.0.1:9/x.png"></body>'))
    run = chromium(leaky, tmp_path / "profile2", "--virtual-time-budget=5000", "--dump-dom")
    assert any("127.0.0.1:9/x.png" in line for line in refused_requests(run.stderr))
    assert 'data-resources="0"' not in run.stdout


@needs_chromium
def test_the_failure_is_visible_on_screen(report: Path, tmp_path: Path) -> None:
    """Read back by OCR from Chromium's own screenshot: on the first screen, not hidden."""
    shot = tmp_path / "report.png"
    chromium(report, tmp_path / "profile", "--window-size=1200,1000",
             "--virtual-time-budget=5000", f"--screenshot={shot}")
    text = " ".join(pytesseract.image_to_string(Image.open(shot)).split())
    assert "failed" in text
    assert "broken.service" in text
    assert "the broken unit starts" in text
    assert "the echo service comes up" in text


def test_format_1_traces_give_a_report(tmp_path: Path) -> None:
    recorded = (DATA / "demo-format1.jsonl").read_bytes()
    # format 1 paths are absolute: the run's directory is gone, as on another machine
    (tmp_path / "nixtest-trace.jsonl").write_bytes(recorded.replace(b"/tmp/h4/out1/",
                                                                    b"/nonexistent/out/"))
    html = build_report(tmp_path)
    assert 'id="result">failed<' in html
    assert "the broken unit starts" in html
    assert "(missing file)" in html  # its screenshot was not kept with the fixture


def test_console_colours_survive_into_the_report(tmp_path: Path) -> None:
    data = (b"[\x1b[0;32m  OK  \x1b[0m] Started \x1b[0;1;39mecho.service\x1b[0m.\r\n"
            b"\x1b[1;31mred alert\x1b[0m\r\nprogress 10%\rprogress 99%\r\n")
    lines = [json.dumps({"t": 0.0, "type": "TraceStarted", "wall": 0, "format": 2}),
             json.dumps({"t": 0.5, "type": "SerialOutput", "machine": "vm",
                         "data_b64": base64.b64encode(data).decode()})]
    (tmp_path / "nixtest-trace.jsonl").write_text("\n".join(lines) + "\n")
    html = build_report(tmp_path)
    console = html[html.index('id="console-vm"'):]
    spans = re.findall(r'<span style="([^"]*)">([^<]*)</span>', console)
    assert any(text == "  OK  " and "color: #" in style for style, text in spans)
    assert any(text == "red alert" and "font-weight: bold" in style for style, text in spans)
    assert "progress 99%" in console and "progress 10%" not in console  # \r redrew the line

"""The HTML report in a real browser: headless Chromium opens it, every image loads, no
script error or console error appears, and a screenshot is saved.

Skipped, with a message, when no Chromium is installed (Debian: ``apt-get install -y
chromium``). A probe script is put into a copy of the report (the report itself has no
script): on ``load`` it counts the images that did not decode and the errors seen, and
writes them into the DOM, which ``--dump-dom`` prints.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import CONFIGS, ROOT, TINY
from trialsim.config.scenario import load_scenario
from trialsim.experiments.pipeline import run_scenario

BROWSER = next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome")
                if shutil.which(b)), None)
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(BROWSER is None, reason="headless Chromium is not installed "
                       "(apt-get install -y chromium): the report's real-browser test is "
                       "skipped"),
]
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-extensions", "--enable-logging=stderr", "--v=0"]

PROBE = """<script>
window.__errors = [];
window.addEventListener('error', function (e) {
  window.__errors.push(e.message ||
    ('failed to load ' + (e.target && e.target.src || '').slice(0, 40)));
}, true);
(function () { var o = console.error; console.error = function () {
  window.__errors.push(Array.prototype.join.call(arguments, ' '));
  o.apply(console, arguments); }; })();
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var bad = imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); });
  var d = document.createElement('div'); d.id = 'probe';
  d.setAttribute('data-images', imgs.length); d.setAttribute('data-broken', bad.length);
  d.setAttribute('data-errors', JSON.stringify(window.__errors));
  document.body.appendChild(d);
});
</script>"""


def open_in_browser(html_path: Path, tmp: Path) -> tuple[dict, str]:
    """Load a probed copy of the page; its probe's findings and the browser's console log."""
    probed = tmp / f"probed_{html_path.name}"
    probed.write_text(html_path.read_text().replace("<head>", "<head>" + PROBE, 1))
    done = subprocess.run([BROWSER, *FLAGS, "--virtual-time-budget=10000", "--dump-dom",
                           probed.as_uri()], capture_output=True, text=True, timeout=120)
    tag = re.search(r'<div id="probe"([^>]*)>', done.stdout)
    assert tag, f"the page did not finish loading: {done.stderr[-2000:]}"
    attrs = dict(re.findall(r'(data-[a-z]+)="([^"]*)"', tag.group(1)))
    from html import unescape

    found = {"images": int(attrs["data-images"]), "broken": int(attrs["data-broken"]),
             "errors": json.loads(unescape(attrs["data-errors"]))}
    console = "\n".join(line for line in done.stderr.splitlines() if "CONSOLE" in line)
    return found, console


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("browser") / "tiny"
    sc = load_scenario(CONFIGS / "bliss76.yaml", TINY)
    run_scenario(sc, out, replicates=4, n_jobs=1, progress=False, report=True,
                 calibration=ROOT / "results" / "calibration")
    return out / "report.html"


def test_every_image_loads_and_there_are_no_console_errors(report, tmp_path):
    n_png = len(list(report.parent.glob("*.png")))
    found, console = open_in_browser(report, tmp_path)
    assert found["images"] == n_png > 0
    assert found["broken"] == 0
    assert found["errors"] == [], found["errors"]
    assert "Uncaught" not in console and "Error" not in console, console


def test_a_screenshot_is_saved(report, tmp_path):
    shot = tmp_path / "report.png"
    subprocess.run([BROWSER, *FLAGS, "--window-size=1280,2000", f"--screenshot={shot}",
                    report.as_uri()], capture_output=True, timeout=120, check=False)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1280, 2000)
    print(f"screenshot: {shot}")


def test_the_probe_sees_a_broken_image_and_a_script_error(report, tmp_path):
    """The check can fail: a copy with a broken image and a throwing script is caught."""
    bad = tmp_path / "bad.html"
    bad.write_text(report.read_text().replace(
        "</body>", '<img src="data:image/png;base64,AAAA"><script>undefinedCall();</script>'
        "</body>"))
    found, _ = open_in_browser(bad, tmp_path)
    assert found["broken"] == 1
    assert any("undefinedCall" in e for e in found["errors"])

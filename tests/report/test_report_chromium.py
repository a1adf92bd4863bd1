"""The report opened in headless Chromium: every section renders, images decode, no console messages.

Needs Debian's ``chromium`` (``tools/install_test_deps.sh`` installs it); skips otherwise.
The page itself has no scripts; for the DOM check a copy gets a small probe script that
measures every section after ``load`` and writes the result into the DOM, which
``--dump-dom`` returns. Console messages are read from Chromium's log on stderr; a
negative control proves that this detection works.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed; run tools/install_test_deps.sh")

SECTIONS = ("gates", "degradation", "conditions", "tail-risk", "distance", "fmea", "drivers", "patch", "metadata")
WITH_FIGURES = ("degradation", "conditions", "tail-risk", "distance", "drivers", "patch")
PROBE = """<script>
window.addEventListener('load', () => {
  const out = {sections: {}, images: []};
  for (const s of document.querySelectorAll('section.card')) {
    const r = s.getBoundingClientRect();
    const svgs = [...s.querySelectorAll('svg')].filter(v => v.getBoundingClientRect().width > 100).length;
    out.sections[s.id] = {height: r.height, svgs: svgs, tables: s.querySelectorAll('table').length,
                          text: s.innerText.length};
  }
  out.images = [...document.images].map(i => ({ok: i.complete && i.naturalWidth > 0}));
  const pre = document.createElement('pre');
  pre.id = 'probe';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--enable-logging=stderr",
           "--v=0", f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def _console(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


def test_console_detection_works(tmp_path):
    page = tmp_path / "bad.html"
    page.write_text("<!DOCTYPE html><html><body><p>x</p><script>console.error('boom'); nope();</script></body></html>")
    res = _chromium(tmp_path, "--dump-dom", page.as_uri())
    found = _console(res.stderr)
    assert any("boom" in line for line in found) and any("nope" in line for line in found)


def test_report_renders_every_section_in_chromium(built_report, tmp_path):
    report = built_report.html
    res = _chromium(tmp_path, "--dump-dom", report.as_uri())
    assert res.returncode == 0, res.stderr[-2000:]
    assert _console(res.stderr) == []
    assert all(f'id="{s}"' in res.stdout for s in SECTIONS)

    probed = tmp_path / "probed.html"
    probed.write_text(report.read_text().replace("</body>", PROBE + "</body>"))
    res = _chromium(tmp_path, "--window-size=1400,1000", "--dump-dom", probed.as_uri())
    m = re.search(r'<pre id="probe">(.*?)</pre>', res.stdout, re.S)
    assert m, "probe did not run"
    probe = json.loads(html.unescape(m.group(1)))
    assert set(probe["sections"]) == set(SECTIONS)
    for sid, s in probe["sections"].items():
        assert s["height"] > 100 and s["text"] > 100, sid
        assert s["svgs"] + s["tables"] > 0, sid
    for sid in WITH_FIGURES:
        assert probe["sections"][sid]["svgs"] >= 1, sid
    assert probe["images"] and all(i["ok"] for i in probe["images"]), "a thumbnail did not decode"

    shot = tmp_path / "report.png"
    res = _chromium(tmp_path, "--window-size=1400,2200", f"--screenshot={shot}", report.as_uri())
    img = cv2.imread(str(shot))
    assert img is not None and img.shape[:2] == (2200, 1400)
    header = img[5:60, 5:600].reshape(-1, 3).mean(axis=0)
    assert np.allclose(header, (0x3D, 0x29, 0x14), atol=25), f"header colour {header}"  # BGR of #14293d
    body = img[300:2200]
    assert body.std() > 20, "page below the header looks blank"
    # the red FAIL verdict tile is drawn in the header
    red = (img[:300, :, 2] > 150) & (img[:300, :, 1] < 80) & (img[:300, :, 0] < 80)
    assert red.sum() > 100

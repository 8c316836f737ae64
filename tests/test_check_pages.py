"""The browser check of the built pages (tools/check_pages.py) catches what it promises to catch.

One tiny site, one page per defect, is checked once by the real check in headless Chromium; the tests are
skipped where no Chromium is installed (CI installs Debian's package).
"""

from __future__ import annotations

import base64
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import check_pages  # noqa: E402

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(BROWSER is None, reason="no Chromium here (apt-get install chromium)")
PIXEL_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
PAGES = {
    "clean.html": '<p>Plain text.</p><img src="pixel.png"><a href="clean.html#top">up</a><span id="top"></span>'
                  "<pre>found = np.intersect1d(a, b); np.floor(x)</pre>",  # library code, not a leaked NumPy scalar
    "raw_math.html": r'<p>An equation <span class="math notranslate">\(x^2\)</span>.</p>',
    "missing_image.html": '<img src="figure_that_is_not_there.png">',
    "leftovers.html": "<p>{glue:text}`x` and np.int64(2)</p><p>epochs:   0%|          | 0/3</p><p>np.float32(0.5)</p>"
                      '<a href="gone.html">gone</a><a href="#nowhere">nowhere</a>',
    "remote.html": '<img src="pixel.png"><script src="https://cdn.example.org/lib.js"></script>'
                   "<script>undefinedFunction();</script>",
}


@pytest.fixture(scope="module")
def problems(tmp_path_factory) -> dict[str, list[str]]:
    site = tmp_path_factory.mktemp("site")
    (site / "pixel.png").write_bytes(PIXEL_PNG)
    for name, body in PAGES.items():
        (site / name).write_text(f"<!doctype html><html><head><title>t</title></head><body><main>{body}</main>"
                                 "</body></html>")
    return {report.path: report.problems for report in check_pages.check_site(site, None, BROWSER)}


def found(problems: list[str], expected: str) -> bool:
    return any(expected in problem for problem in problems)


def test_a_clean_page_passes(problems):
    assert problems["clean.html"] == []


def test_untypeset_math_is_caught(problems):
    assert found(problems["raw_math.html"], "left as TeX")


def test_a_missing_image_is_caught(problems):
    assert found(problems["missing_image.html"], "image did not load")


@pytest.mark.parametrize("expected", ["{glue", "np.int64(", "progress bar at 0%", "broken link: gone.html",
                                      "missing anchor: #nowhere"])
def test_leftover_markup_a_stale_progress_bar_and_broken_links_are_caught(problems, expected):
    assert found(problems["leftovers.html"], expected), problems["leftovers.html"]


def test_a_request_to_another_host_and_a_script_error_are_caught(problems):
    assert found(problems["remote.html"], "request to another host: https://cdn.example.org/lib.js")
    assert found(problems["remote.html"], "script error")


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="no pdftotext here (apt-get install poppler-utils)")
def test_the_pdf_check_finds_a_missing_chapter_and_raw_tex(tmp_path):
    import pdf
    from playwright.sync_api import sync_playwright

    printed = tmp_path / "book.pdf"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=BROWSER, args=check_pages.BROWSER_FLAGS)
        page = browser.new_page()
        page.set_content(r"<h1>1. The convolution operation</h1><p>Left as TeX: \(\frac{a}{b}\).</p>")
        page.pdf(path=str(printed))
        browser.close()
    assert pdf.check_pdf(printed, ["The convolution operation"])[0].startswith("raw TeX")
    problems = pdf.check_pdf(printed, ["The convolution operation", "Pooling"])
    assert [problem for problem in problems if "missing" in problem] == ["chapter title missing: 'Pooling'"]
    raw = r"raw TeX: ...The convolution operation Left as TeX: \(\frac"
    assert any(problem.startswith(raw) for problem in problems)

"""Print the book to one PDF, offline: the single-page HTML build, typeset by MathJax, printed by headless Chromium.

``python3 tasks.py pdf`` builds ``_build/singlehtml`` (every chapter, from the execution cache of the HTML build)
and runs this, which writes ``_build/pdf/book.pdf`` with a title page, a table of contents, the numbered chapters
with their figures, typeset equations and code, and the bibliography. It then reads the PDF back with ``pdftotext``
(Debian's poppler-utils) and fails unless every chapter's title is in it and no TeX was left untypeset.

    python tools/pdf.py [--site _build/singlehtml] [--output _build/pdf/book.pdf] [--browser PATH]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_pages import BROWSER_FLAGS, find_browser

ROOT = Path(__file__).resolve().parents[1]
# TeX that MathJax would have replaced: \( \) \[ \] delimiters, $$, and common commands outside any equation.
RAW_TEX = re.compile(r"\\\(|\\\)|\\\[|\\\]|\$\$|\\(?:frac|sum|mathbf|mathrm|left|right|partial|sqrt)\b")

# Run in the page before printing: hide the navigation, start every document on a new page, and put the theme's print
# header (the book's title and its table of contents) on a page of its own.
PREPARE_SCRIPT = """
async (title) => {
  const within = (promise, ms) => Promise.race([promise, new Promise(done => setTimeout(done, ms))]);
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await within(MathJax.startup.promise, 240000); }
  for (const img of document.images) { img.loading = 'eager'; }
  await within(Promise.all(Array.from(document.images).map(img => img.complete ? null : new Promise(done => {
    img.addEventListener('load', done); img.addEventListener('error', done); }))), 60000);
  const style = document.createElement('style');
  style.textContent = `
    .bd-header, .bd-sidebar-primary, .bd-sidebar-secondary, .bd-header-article, .bd-footer, .bd-footer-article,
    .prev-next-area, .header-article, .skip-link, #pst-back-to-top, .headerlink { display: none !important; }
    .bd-main .bd-content .bd-article-container, .bd-page-width { max-width: 100% !important; }
    body { font-size: 10.5pt; }
    .book-chapter { break-before: page; }
    pre, figure, table, mjx-container, .cell_input { break-inside: avoid; }
    #jb-print-docs-body { break-after: page; }
    #jb-print-docs-body > h1 { font-size: 28pt; text-align: center; margin: 25% 0 2em; }
  `;
  document.head.appendChild(style);
  // In the single-page build every document follows a marker <span id="document-NAME">; chapters are those
  // under chapters/, each opening with its numbered title.
  const chapters = Array.from(document.querySelectorAll('span[id^="document-chapters/"]'))
    .map(marker => marker.nextElementSibling).filter(section => section && section.tagName === 'SECTION');
  const titles = chapters.map(section => {
    section.classList.add('book-chapter');
    const heading = section.querySelector('h1, h2');
    return heading ? heading.textContent.replace('#', '').trim() : '';
  });
  const others = Array.from(document.querySelectorAll('span[id^="document-"]:not([id^="document-chapters/"])'))
    .map(marker => marker.nextElementSibling).filter(section => section && section.tagName === 'SECTION');
  others.forEach(section => section.classList.add('book-chapter'));
  // The theme's print header (#jb-print-docs-body) is the title and the table of contents, by part.
  if (!document.querySelector('#jb-print-docs-body')) {
    const front = document.createElement('h1');
    front.textContent = title;
    (document.querySelector('article') || document.body).prepend(front);
  }
  return titles;
}
"""


def chapter_titles() -> list[str]:
    """The first heading of every chapter notebook: what the PDF must contain."""
    titles = []
    for path in sorted((ROOT / "chapters").glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            match = re.search(r"^# (.+)$", "".join(cell["source"]), re.MULTILINE) if cell["cell_type"] == "markdown" \
                else None
            if match:
                titles.append(match.group(1).strip())
                break
    return titles


def print_pdf(site: Path, output: Path, browser: str, title: str) -> None:
    from playwright.sync_api import sync_playwright

    index = site / "intro.html"  # the root document: Jupyter Book writes index.html as a redirect to it
    if not index.exists():
        sys.exit(f"{index} is missing: build the single-page HTML first (python3 tasks.py pdf does)")
    output.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=browser, headless=True, args=BROWSER_FLAGS)
        page = chromium.new_page(color_scheme="light")
        page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(("file:", "data:"))
                   else route.abort())
        page.goto(index.as_uri(), wait_until="load", timeout=300_000)
        page.evaluate("document.documentElement.dataset.theme = 'light'")
        titles = page.evaluate(PREPARE_SCRIPT, title)
        print(f"{len(titles)} chapters laid out", flush=True)
        page.emulate_media(media="print")
        page.pdf(path=str(output), format="A4", print_background=True, outline=True, tagged=True,
                 margin={"top": "18mm", "bottom": "18mm", "left": "16mm", "right": "16mm"},
                 display_header_footer=True, header_template="<span></span>",
                 footer_template='<div style="font-size:8pt;width:100%;text-align:center">'
                                 '<span class="pageNumber"></span></div>')
        chromium.close()


def check_pdf(pdf: Path, titles: list[str]) -> list[str]:
    """Problems with the printed book: a chapter title missing from its text, or TeX left untypeset."""
    if shutil.which("pdftotext") is None:
        return ["pdftotext is not installed (apt-get install poppler-utils): the PDF cannot be checked"]
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True,
                          text=True).stdout
    flat = " ".join(text.split())
    problems = [f"chapter title missing: {title!r}" for title in titles if " ".join(title.split()) not in flat]
    for match in list(RAW_TEX.finditer(text))[:5]:
        problems.append(f"raw TeX: ...{' '.join(text[max(0, match.start() - 40) : match.end() + 40].split())}...")
    return problems


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, default=ROOT / "_build" / "singlehtml")
    parser.add_argument("--output", type=Path, default=ROOT / "_build" / "pdf" / "book.pdf")
    parser.add_argument("--browser", default=None)
    args = parser.parse_args(argv)
    title = re.search(r"^title:\s*(.+)$", (ROOT / "_config.yml").read_text(), re.MULTILINE).group(1).strip()
    print_pdf(args.site.resolve(), args.output.resolve(), find_browser(args.browser), title)
    problems = check_pdf(args.output, chapter_titles())
    pages = subprocess.run(["pdfinfo", str(args.output)], capture_output=True, text=True).stdout \
        if shutil.which("pdfinfo") else ""
    count = re.search(r"Pages:\s+(\d+)", pages)
    print(f"wrote {args.output} ({args.output.stat().st_size / 1e6:.1f} MB"
          f"{f', {count.group(1)} pages' if count else ''})")
    for problem in problems:
        print(f"  - {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

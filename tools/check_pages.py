"""Open every page of the built book in headless Chromium, as a reader with no network would, and check it.

``python3 tasks.py check`` runs this on ``_build/html`` after ``python3 tasks.py book``; CI runs it after the build.
A page fails when it shows an equation left as TeX, an image that did not load, an error or traceback in an
output, leftover markup (``{glue``, ``np.int64(``, ``undefined label``), a progress bar stuck at 0%, a link to a
missing page or anchor, a console error, or when it asks for anything but a local file (the book must work
offline). Every page is photographed in full, in the light and the dark theme, under ``_build/screenshots/``.

    python tools/check_pages.py [--site _build/html] [--screenshots _build/screenshots] [--browser PATH]

The browser is Debian's ``chromium`` (``/usr/bin/chromium``; ``.ci/run`` installs it), driven by playwright's
Python package; playwright's own browser downloads are never used.
"""

from __future__ import annotations

import argparse
import html.parser
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parents[1]
SKIPPED_FOLDERS = {"_static", "_sources", "_images", "_downloads", "reports", "_sphinx_design_static"}
THEMES = ("light", "dark")
JPEG_MAX_HEIGHT = 60_000
REDIRECT = re.compile(r"<meta[^>]+http-equiv=[\"']refresh", re.IGNORECASE)  # index.html only points to intro.html
# Text that must never reach a reader: failed glue, NumPy scalar reprs, unresolved references, tracebacks, and the
# stale text of a progress-bar widget ("epochs:   0%|          | 0/3").
BAD_TEXT = {
    "{glue": re.compile(r"\{glue"),
    # The scalar types' names only: np.intersect1d( or np.floor( in rendered library code is not a leaked repr.
    "np.int64(": re.compile(r"\bnp\.(?:u?int(?:8|16|32|64|p|c)?|float(?:16|32|64|128)?|bool_?|complex(?:64|128)?)\("),
    "undefined label": re.compile(r"undefined label", re.IGNORECASE),
    "a traceback": re.compile(r"Traceback \(most recent call last\)"),
    "a progress bar at 0%": re.compile(r"(?<![\d.])0%\|"),
}
BROWSER_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]

# In the page: every Sphinx math element must hold MathJax's output; every image must have loaded; outputs must not
# be error outputs; and the page's visible text, without code, is returned for the text checks.
PAGE_SCRIPT = """
async () => {
  const within = (promise, ms) => Promise.race([promise, new Promise(done => setTimeout(done, ms))]);
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await within(MathJax.startup.promise, 60000); }
  const problems = [];
  const math = Array.from(document.querySelectorAll('.math, span.math, div.math'));
  const raw = math.filter(el => !el.querySelector('mjx-container'));
  if (raw.length) {
    problems.push(`${raw.length} equation(s) left as TeX, e.g. ${raw[0].textContent.trim().slice(0, 60)}`);
  }
  const images = Array.from(document.images);
  for (const img of images) { if (img.loading === 'lazy') img.loading = 'eager'; }
  await within(Promise.all(images.map(img => img.complete ? null : new Promise(done => {
    img.addEventListener('load', done); img.addEventListener('error', done); }))), 15000);
  const broken = images.filter(img => !(img.complete && img.naturalWidth > 0));
  for (const img of broken.slice(0, 5)) problems.push(`image did not load: ${img.getAttribute('src')}`);
  const errors = document.querySelectorAll('.output.traceback, .output.error, div.cell_output .traceback');
  if (errors.length) problems.push(`${errors.length} error output(s): ${errors[0].textContent.trim().slice(0, 120)}`);
  const clone = document.querySelector('main') ? document.querySelector('main').cloneNode(true)
                                               : document.body.cloneNode(true);
  // Code is not prose: drop the cells' inputs and code in the text, but keep the cells' outputs, where a stale
  // progress bar, a traceback or a NumPy repr would show.
  clone.querySelectorAll('.cell_input, script, style, mjx-container, .math').forEach(el => el.remove());
  clone.querySelectorAll('pre, code').forEach(el => { if (!el.closest('.cell_output')) el.remove(); });
  return {problems, text: clone.textContent, mathCount: math.length};
}
"""


@dataclass
class PageReport:
    path: str
    problems: list[str] = field(default_factory=list)


class _Anchors(html.parser.HTMLParser):
    """The ids a page defines and the links it holds."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for key in ("id", "name"):
            if attributes.get(key):
                self.ids.add(attributes[key])
        if tag == "a" and attributes.get("href"):
            self.links.append(attributes["href"])


def pages_of(site: Path) -> list[Path]:
    """The HTML pages a reader can open, without theme assets, sources and execution reports."""
    return sorted(path for path in site.rglob("*.html")
                  if not SKIPPED_FOLDERS.intersection(path.relative_to(site).parts[:-1])
                  and not REDIRECT.search(path.read_text(errors="replace")[:2000]))


def link_problems(site: Path, pages: list[Path]) -> dict[Path, list[str]]:
    """Internal links to files that do not exist, or to anchors that their page does not define."""
    parsed: dict[Path, _Anchors] = {}

    def anchors(path: Path) -> _Anchors:
        if path not in parsed:
            parser = _Anchors()
            parser.feed(path.read_text(errors="replace"))
            parsed[path] = parser
        return parsed[path]

    problems: dict[Path, list[str]] = {}
    for page in pages:
        for href in anchors(page).links:
            parts = urlsplit(href)
            if parts.scheme or parts.netloc or href.startswith(("mailto:", "javascript:")):
                continue  # an external link is a link, not a request; the browser check catches requests
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                problems.setdefault(page, []).append(f"broken link: {href}")
            elif parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in anchors(target).ids:
                problems.setdefault(page, []).append(f"missing anchor: {href}")
    return problems


def _refuse_remote(seen: list[str]):
    """A route handler that lets local files through and records, then aborts, every other request."""

    def handle(route) -> None:
        url = route.request.url
        if url.startswith(("file:", "data:", "blob:", "about:")):
            route.continue_()
        else:
            seen.append(f"request to another host: {url}")
            route.abort()

    return handle


def _record_console_errors(seen: list[str]):
    def handle(message) -> None:
        if message.type == "error":
            seen.append(f"console error: {message.text}")

    return handle


def check_site(site: Path, screenshots: Path | None, browser: str) -> list[PageReport]:
    """Check every page of ``site``; photograph each in both themes under ``screenshots`` (None: no photos)."""
    from playwright.sync_api import sync_playwright

    pages = pages_of(site)
    if not pages:
        return [PageReport(str(site), ["no HTML page found: build the book first (python3 tasks.py book)"])]
    reports = {page: PageReport(str(page.relative_to(site))) for page in pages}
    for page, problems in link_problems(site, pages).items():
        reports[page].problems.extend(sorted(set(problems)))
    if screenshots is not None:
        shutil.rmtree(screenshots, ignore_errors=True)
        screenshots.mkdir(parents=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=browser, headless=True, args=BROWSER_FLAGS)
        for theme in THEMES:
            context = chromium.new_context(color_scheme=theme, viewport={"width": 1280, "height": 900})
            context.add_init_script(f"try {{ localStorage.setItem('mode', '{theme}'); }} catch (e) {{}}")
            for page_path in pages:
                report = reports[page_path]
                seen: list[str] = []
                tab = context.new_page()
                tab.route("**/*", _refuse_remote(seen))
                tab.on("console", _record_console_errors(seen))
                tab.on("pageerror", lambda error, seen=seen: seen.append(f"script error: {error}"))
                try:
                    tab.goto(page_path.as_uri(), wait_until="load", timeout=60_000)
                    tab.evaluate(f"document.documentElement.dataset.theme = '{theme}';"
                                 f"document.documentElement.dataset.mode = '{theme}';")
                    result = tab.evaluate(PAGE_SCRIPT)
                except Exception as error:  # a page that cannot even be opened is a failed page
                    report.problems.append(f"{theme}: could not check the page: {error}")
                    tab.close()
                    continue
                if theme == THEMES[0]:  # the content is the same in both themes: check it once
                    report.problems.extend(result["problems"])
                    for name, pattern in BAD_TEXT.items():
                        match = pattern.search(result["text"])
                        if match:
                            context_text = result["text"][max(0, match.start() - 40) : match.end() + 40]
                            report.problems.append(f"{name} in the text: ...{' '.join(context_text.split())}...")
                report.problems.extend(f"{theme}: {problem}" for problem in dict.fromkeys(seen))
                if screenshots is not None:
                    name = page_path.relative_to(site).with_suffix("").as_posix().replace("/", "__")
                    # JPEG keeps the files small but stops at 65,535 pixels; a taller page (the API) is a PNG.
                    tall = tab.evaluate("document.documentElement.scrollHeight") > JPEG_MAX_HEIGHT
                    shot = screenshots / f"{name}.{theme}.{'png' if tall else 'jpg'}"
                    tab.screenshot(path=str(shot), full_page=True, **({} if tall else {"type": "jpeg", "quality": 70}))
                    if not shot.exists() or shot.stat().st_size == 0:
                        report.problems.append(f"{theme}: the screenshot {shot.name} came out empty")
                tab.close()
            context.close()
        chromium.close()
    return list(reports.values())


def find_browser(explicit: str | None) -> str:
    for candidate in [explicit, shutil.which("chromium"), shutil.which("chromium-browser"), "/usr/bin/chromium"]:
        if candidate and Path(candidate).exists():
            return candidate
    sys.exit("No Chromium found: install Debian's `chromium` package (apt-get install chromium), or pass --browser.")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, default=ROOT / "_build" / "html")
    parser.add_argument("--screenshots", type=Path, default=ROOT / "_build" / "screenshots")
    parser.add_argument("--browser", default=None)
    args = parser.parse_args(argv)
    reports = check_site(args.site.resolve(), args.screenshots.resolve(), find_browser(args.browser))
    failed = [report for report in reports if report.problems]
    for report in failed:
        print(f"{report.path}:")
        for problem in report.problems:
            print(f"  - {problem}")
    print(f"checked {len(reports)} page(s) in {len(THEMES)} themes: {len(failed)} with problems; "
          f"screenshots in {args.screenshots}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

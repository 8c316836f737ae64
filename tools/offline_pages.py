"""Sphinx extension of this book: pages that need nothing from the network.

- MathJax is served from the site itself: the MathJax 3 distribution that the ``sphinx-mathjax-offline`` package
  ships (installed from requirements.txt) is copied into ``_build/html/_static/mathjax`` and every page loads it from
  there, so equations are typeset with the network off.
- Thebe: Jupyter Book always loads sphinx-thebe, whose script (added twice, a script error on every page) would
  fetch thebe from unpkg.com to run code through Binder. The book has no launch buttons, so its scripts are dropped.
- The single-page build that ``tasks.py pdf`` prints: extensions that register a node for the ``singlehtml``
  builder by name hide from it every node registered for ``html`` only (myst-nb's hidden-input cells among them,
  an exception), so the html visitors are copied to singlehtml where it has none.
- Progress bars: a training cell's tqdm bar is a Jupyter widget, which a static page can only draw with scripts
  fetched from a CDN (require.js and the widget manager); offline it shows the text it had when it was created,
  "0%". ``tasks.py book`` sets ``CNN_BOOK_PLAIN_PROGRESS=1`` so that the chapters draw text bars instead, whose
  final state ("100% 3/3") is what the page shows (see :func:`cnnlib.utils.progress`).
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

MATHJAX_DISTRIBUTION = "sphinx-mathjax-offline"
MATHJAX_SCRIPT = "mathjax/tex-mml-chtml.js"  # the same bundle as the CDN default, relative to _static


def _mathjax_static_folder() -> Path:
    """The folder holding ``mathjax/``, inside the installed sphinx-mathjax-offline distribution."""
    try:
        distribution = importlib.metadata.distribution(MATHJAX_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError as error:
        raise RuntimeError(
            f"the book serves MathJax from the package {MATHJAX_DISTRIBUTION!r}, which is not installed; "
            "run `python3 tasks.py book`, which installs requirements.txt"
        ) from error
    folder = Path(distribution.locate_file("sphinx-mathjax-offline/static"))
    if not (folder / MATHJAX_SCRIPT).is_file():
        raise RuntimeError(f"{folder / MATHJAX_SCRIPT} is missing from {MATHJAX_DISTRIBUTION}")
    return folder


def _serve_mathjax_locally(app, config) -> None:
    config.html_static_path = [*config.html_static_path, str(_mathjax_static_folder())]
    config.mathjax_path = MATHJAX_SCRIPT


def _drop_thebe(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if scripts:
        context["script_files"] = [
            script for script in scripts
            if "thebe" not in str(getattr(script, "filename", "") or "").lower()
            and "thebe" not in str(getattr(script, "attributes", {}).get("body", "")).lower()
        ]


def _singlehtml_renders_what_html_renders(app) -> None:
    handlers = app.registry.translation_handlers
    if app.builder.name == "singlehtml" and "singlehtml" in handlers:
        for node_name, visitors in handlers.get("html", {}).items():
            handlers["singlehtml"].setdefault(node_name, visitors)


def setup(app):
    app.connect("builder-inited", _singlehtml_renders_what_html_renders)
    app.connect("config-inited", _serve_mathjax_locally)
    app.connect("html-page-context", _drop_thebe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

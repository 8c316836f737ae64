"""Execute the chapters that the book's cache lacks, several at a time, and cache their outputs for the build.

``python3 tasks.py book`` runs this before ``jupyter-book build``: Jupyter Book executes notebooks one at a time,
while this fills the same jupyter-cache (``_build/.jupyter_cache``, the one ``execute_notebooks: cache`` reads)
with one chapter per core. Each chapter's kernel gets one thread per worker (OMP_NUM_THREADS and friends), so that
two chapters on two cores do not fight over them. A chapter that raises is not cached; the build then executes it
again and reports it with its cell and error.

    python tools/execute.py [--workers N] [--timeout SECONDS] NOTEBOOK ...
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "_build" / ".jupyter_cache"
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def _execute(path: str, timeout: int) -> tuple[str, dict | None, float]:
    """Run one notebook in its own folder; return it executed, or None if a cell raised."""
    import nbformat
    from jupyter_cache.executors.utils import single_nb_execution

    notebook = nbformat.read(path, as_version=4)
    result = single_nb_execution(notebook, cwd=str(Path(path).parent), timeout=timeout, allow_errors=False,
                                 meta_override=True)
    return path, (None if result.err is not None else notebook), result.time


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--timeout", type=int, default=300, help="seconds per cell, as _config.yml's execute.timeout")
    args = parser.parse_args(argv)

    import nbformat
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    cache = get_cache(str(CACHE))
    pending = []
    for path in args.notebooks:
        try:
            cache.match_cache_notebook(nbformat.read(path, as_version=4))
        except KeyError:
            pending.append(path.resolve())
    if not pending:
        print("every chapter's outputs are cached", flush=True)
        return 0
    workers = max(1, min(args.workers, len(pending)))
    threads = str(max(1, (os.cpu_count() or 1) // workers))
    for name in THREAD_VARIABLES:
        os.environ[name] = threads
    # Longest first, from the times of the last run, so that the two workers finish together.
    last_seconds = {record.uri: record.data.get("execution_seconds", 0.0) for record in cache.list_cache_records()}
    pending.sort(key=lambda path: -last_seconds.get(str(path), float(path.name[:2]) if path.name[:2].isdigit() else 0))
    print(f"executing {len(pending)} chapter(s), {workers} at a time, {threads} thread(s) each", flush=True)
    start, failed = time.perf_counter(), []
    with ProcessPoolExecutor(workers) as pool:
        futures = [pool.submit(_execute, str(path), args.timeout) for path in pending]
        for future in as_completed(futures):
            path, notebook, seconds = future.result()
            name = Path(path).relative_to(ROOT)
            if notebook is None:
                failed.append(name)
                print(f"  {name}: FAILED after {seconds:.1f} s (the build will run it again and report it)", flush=True)
                continue
            record = cache.add_nb_to_project(path)
            cache.cache_notebook_bundle(CacheBundleIn(notebook, record.uri, data={"execution_seconds": seconds}),
                                        check_validity=False, overwrite=True)
            print(f"  {name}: {seconds:.1f} s", flush=True)
    print(f"executed in {time.perf_counter() - start:.0f} s of wall time", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

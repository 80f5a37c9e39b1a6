"""Open ``notebooks/07-try-it.ipynb`` in a real JupyterLab in headless Chromium, run it, and take screenshots.

What a reader sees is not what nbval checks: nbval runs the cells, but only a browser renders the widgets. This
starts ``jupyter lab`` on a free local port (no token), opens the notebook in Chromium through Playwright, runs
every cell (JupyterLab's "Run All Cells"), waits for the widgets' figure and the last cell's, scrolls the
controls to the top of the window and writes ``docs/figures/try_it.png``. Needs a browser and Playwright,
neither a project dependency:

    sudo apt-get install chromium          # Debian's package: /usr/bin/chromium
    pip install playwright                 # the Python driver; no browser download (Debian's is used)
    python tools/screenshot_try_it.py
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "notebooks/07-try-it.ipynb"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_server(url: str, seconds: float) -> None:
    import urllib.request

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url + "/api", timeout=2)
            return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"JupyterLab did not answer at {url} within {seconds:g} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--browser", default="/usr/bin/chromium")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "figures")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for the cells to finish")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ServerApp.token=",
         "--ServerApp.password=", "--ServerApp.disable_check_xsrf=True", f"--ServerApp.root_dir={ROOT}",
         "--allow-root"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_server(url, 60)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=args.browser, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 1150})
            page.goto(f"{url}/lab/tree/{NOTEBOOK}")
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
            page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
            page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
            # two figures: the widgets' output and the last cell's
            page.wait_for_function("document.querySelectorAll('.jp-OutputArea-output img').length >= 2",
                                   timeout=args.timeout * 1000)
            page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)
            no_news = page.get_by_role("button", name="No", exact=True)  # JupyterLab's own news prompt
            if no_news.count():
                no_news.first.click()
            page.locator(".widget-dropdown").first.evaluate("e => e.scrollIntoView({block: 'start'})")
            time.sleep(1)  # let the figure settle after scrolling
            page.screenshot(path=str(args.out / "try_it.png"))
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"wrote {args.out / 'try_it.png'}")


if __name__ == "__main__":
    main()

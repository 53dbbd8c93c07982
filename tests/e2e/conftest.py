"""Browser tests: Playwright for Python driving Debian's chromium against
pytest-django's live server, with real ingested runs (tests.dashboard.seed).

Screenshots of every page go to $ROOFWATCH_SCREENSHOTS, else to a folder
under pytest's base temp dir; the path is printed at the end of the session.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import need_service

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
VIEWPORT = {"width": 1440, "height": 900}

# Playwright's sync API runs an event loop in this thread; Django's ORM would
# refuse to be called from the test body without this.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need_service("playwright is not installed (pip install 'playwright>=1.48,<2')")
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        need_service(f"no chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory) -> Path:
    path = Path(os.environ["ROOFWATCH_SCREENSHOTS"]) if os.environ.get("ROOFWATCH_SCREENSHOTS") else (
        tmp_path_factory.getbasetemp() / "screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    base = os.environ.get("ROOFWATCH_SCREENSHOTS")
    if base:
        terminalreporter.write_line(f"dashboard screenshots: {base}")
    elif hasattr(config, "_tmp_path_factory"):
        terminalreporter.write_line(f"dashboard screenshots: {config._tmp_path_factory.getbasetemp() / 'screenshots'}")


class Page:
    """A browser page that records console errors and failed requests."""

    def __init__(self, page, base_url: str, shots: Path):
        self.page, self.base_url, self.shots = page, base_url, shots
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        page.on("response", lambda r: self.errors.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None)

    def open(self, path: str, ready: str | None = None):
        response = self.page.goto(self.base_url + path, wait_until="load")
        assert response is not None and response.status == 200, f"{path}: HTTP {response and response.status}"
        if ready:
            self.page.wait_for_selector(ready, state="attached", timeout=10_000)
        return response

    def shot(self, name: str) -> Path:
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def chart_points(self, canvas_id: str) -> list[int]:
        """data.length of each dataset of the Chart.js chart on <canvas id=canvas_id>."""
        return self.page.evaluate(
            "id => Chart.getChart(document.getElementById(id)).data.datasets.map(d => d.data.length)", canvas_id
        )

    def assert_no_errors(self):
        assert self.errors == [], "\n".join(self.errors)


@pytest.fixture
def page(browser, live_server, screenshot_dir):
    context = browser.new_context(viewport=VIEWPORT)
    p = context.new_page()
    yield Page(p, live_server.url, screenshot_dir)
    # Let the page's own fetches (small charts) finish before the test database goes away.
    p.wait_for_load_state("networkidle", timeout=10_000)
    context.close()


@pytest.fixture
def seeded(transactional_db):
    from tests.dashboard.seed import seed_regression

    return seed_regression()


def sign_in(page: Page, username: str = "triager", password: str = "pw-for-tests") -> None:
    from django.contrib.auth.models import User

    User.objects.create_user(username, password=password)
    page.open("/accounts/login/")
    page.page.fill("#id_username", username)
    page.page.fill("#id_password", password)
    page.page.click("button[type=submit]")
    page.page.wait_for_selector("#signed-in-as")

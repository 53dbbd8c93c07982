"""Every dashboard page opens in a real browser with no console error, no
failed request, and its charts drawn; a screenshot of each is saved."""
from tests.dashboard.seed import MACHINES, SLOW_FROM


def test_every_page_loads_without_errors_and_is_screenshotted(seeded, page):
    slow = seeded.runs[MACHINES[0]]
    summary = seeded.summary
    pages = [
        ("overview", "/", "body[data-overview-ready]"),
        ("alerts", "/alerts/", "#summaries"),
        ("alert-summary", f"/alerts/{summary.pk}/", "#alerts"),
        ("series", f"/series/?benchmark={seeded.benchmark_id}&layer=fc1", "body[data-series-ready]"),
        ("series-end-to-end", f"/series/?benchmark={seeded.benchmark_id}", "body[data-series-ready]"),
        ("run", f"/runs/{slow[SLOW_FROM].pk}/", "body[data-run-ready]"),
        ("compare", f"/compare/?before={slow[SLOW_FROM - 1].pk}&after={slow[SLOW_FROM].pk}", "body[data-compare-ready]"),
        ("runs", "/runs/", "#runs"),
        ("machines", "/machines/", "#machines"),
        ("machine", f"/machines/{MACHINES[0]}/", "#runs"),
        ("login", "/accounts/login/", "#id_username"),
    ]
    for name, path, ready in pages:
        page.open(path, ready)
        page.page.wait_for_load_state("networkidle")
        page.shot(name)
    page.page.set_viewport_size({"width": 1024, "height": 720})  # a small laptop screen
    for name, path, ready in [pages[0], pages[2], pages[3], pages[5]]:
        page.open(path, ready)
        page.page.wait_for_load_state("networkidle")
        page.shot(f"{name}-1024px")
        overflow = page.page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at 1024px wide"
    page.assert_no_errors()

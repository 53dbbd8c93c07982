"""The alert page shows a found bisection in a real browser: the culprit with
its link and every step. (The README's picture comes from a real bisection:
tests/integration/test_bisect_end_to_end.py with ROOFWATCH_DOC_IMAGES=1.)"""
from tests.notify.culprits import CULPRIT_SHA, make_bisection

from .conftest import sign_in

def test_a_found_bisection_shows_the_culprit_and_its_steps(seeded, page):
    summary = seeded.summary
    bisection = make_bisection(summary, run_id=summary.alerts.first().run_after_id)
    sign_in(page)
    page.open(f"/alerts/{summary.pk}/", f"#bisection-{bisection.pk}")
    section = page.page.locator(f"#bisection-{bisection.pk}")
    culprit = section.locator(".culprit")
    assert culprit.is_visible()
    assert "matmul: <tile> the inner loop & unroll" in culprit.inner_text()
    assert culprit.locator("a.culprit-sha").get_attribute("href").endswith(f"/commit/{CULPRIT_SHA}")
    steps = section.locator(f"#bisect-steps-{bisection.pk} tbody tr")
    assert steps.count() == 4 and steps.nth(3).is_visible()
    assert [steps.nth(i).locator("td").last.inner_text() for i in range(4)] == ["good", "bad", "good", "culprit"]
    assert page.page.locator("#bisect-start").count() == 1 and page.page.locator("#bisect-start").is_visible()
    page.page.wait_for_load_state("networkidle")
    page.shot("alert-bisection")
    page.assert_no_errors()


def test_the_buttons_start_and_cancel_a_bisection_through_the_api(seeded, page):
    from bisection.models import CANCELLED, LISTING, RUNNING, Bisection

    summary = seeded.summary
    # The fleet takes hexadecimal commit ids only (the seed's are c11..c12).
    summary.attribution["commits"].update(last_good="c11" + "0" * 37, first_bad="c12" + "0" * 37)
    summary.save(update_fields=["attribution"])
    running = make_bisection(summary, status=RUNNING)
    sign_in(page)
    page.open(f"/alerts/{summary.pk}/", f"[data-cancel-bisection='{running.pk}']")
    assert page.page.locator("#bisect-start").count() == 0  # one at a time
    with page.page.expect_navigation():
        page.page.click(f"[data-cancel-bisection='{running.pk}']")
    page.page.wait_for_selector("#bisect-start")
    running.refresh_from_db()
    assert running.status == CANCELLED and running.cancelled_by.username == "triager"
    with page.page.expect_navigation():
        page.page.click("#bisect-start")
    page.page.wait_for_selector("[data-cancel-bisection]")
    started = Bisection.objects.exclude(pk=running.pk).get()
    assert started.status == LISTING and started.started_by.username == "triager"
    assert "cancelled by triager" in page.page.locator(f"#bisection-{running.pk}").inner_text()
    page.assert_no_errors()

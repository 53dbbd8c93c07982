"""Clicking a triage button on the alert summary page changes the summary in
the database, through the alerts API with the session's CSRF token."""
from regressions.models import ACKNOWLEDGED, FIXED, AlertSummary, TriageEvent

from .conftest import sign_in


def test_clicking_acknowledge_changes_the_summary_status_in_the_database(seeded, page):
    sign_in(page)
    page.open(f"/alerts/{seeded.summary.pk}/", "[data-status=acknowledged]")
    with page.page.expect_navigation():
        page.page.click("[data-status=acknowledged]")
    page.page.wait_for_selector("#summary-badges .status-acknowledged")
    summary = AlertSummary.objects.get(pk=seeded.summary.pk)
    assert summary.status == ACKNOWLEDGED and summary.triaged_by.username == "triager"
    page.shot("alert-summary-acknowledged")
    page.assert_no_errors()


def test_notes_are_saved_and_fixed_is_recorded_in_the_history(seeded, page):
    sign_in(page)
    page.open(f"/alerts/{seeded.summary.pk}/", "#notes")
    page.page.fill("#notes", "fc1 lost its blocking in c12; revert pending")
    page.page.click("#save-notes")
    page.page.wait_for_selector("#triage-message:has-text('Notes saved')")
    with page.page.expect_navigation():
        page.page.click("[data-status=fixed]")
    page.page.wait_for_selector("#history .events li")
    summary = AlertSummary.objects.get(pk=seeded.summary.pk)
    assert summary.status == FIXED and summary.notes == "fc1 lost its blocking in c12; revert pending"
    assert list(TriageEvent.objects.values_list("action", "new")) == [("notes", ""), ("status", FIXED)]
    page.assert_no_errors()

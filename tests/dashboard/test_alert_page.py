"""The alert summary page: change, attribution, evidence, affected series, triage."""
from django.contrib.auth.models import User

from regressions.models import TriageEvent

from .helpers import table_rows
from .seed import MACHINES, SLOW_FROM


def page(client, seeded):
    return client.get(f"/alerts/{seeded.summary.pk}/").content.decode()


def test_it_shows_the_commit_range_with_links_to_the_repository(client, seeded):
    html = page(client, seeded)
    assert 'href="https://github.com/example/roofwatch-models/compare/c11...c12"' in html
    assert 'href="https://github.com/example/roofwatch-models/commit/c12"' in html


def test_it_lists_each_affected_series_with_a_small_chart(client, seeded):
    html = page(client, seeded)
    rows = table_rows(html, "alerts")
    assert [row["cells"][0].removesuffix("mlp(batch_size=64)") for row in rows] == ["end_to_end", "fc1"]
    assert all(row["cells"][1] == MACHINES[0] for row in rows)
    for alert in seeded.summary.alerts.all():
        assert f'id="alert-chart-{alert.pk}"' in html


def test_it_spells_out_the_roofline_evidence(client, seeded):
    html = page(client, seeded)
    assert "compute-bound layer whose achieved FLOP/s changed" in html
    assert "% of roof" in html


def test_it_links_to_the_compare_page_of_the_run_pair(client, seeded):
    runs = seeded.runs[MACHINES[0]]
    assert f'href="/compare/?before={runs[SLOW_FROM - 1].pk}&after={runs[SLOW_FROM].pk}"' in page(client, seeded)


def test_anonymous_visitors_see_no_triage_buttons_but_a_sign_in_link(client, seeded):
    html = page(client, seeded)
    assert "data-status=" not in html
    assert "/accounts/login/?next=" in html and "to acknowledge" in html


def test_signed_in_users_get_the_triage_buttons_and_reassign(client, seeded):
    client.force_login(User.objects.create_user("ann"))
    html = page(client, seeded)
    for status in ("acknowledged", "invalid", "fixed"):
        assert f'data-status="{status}"' in html
    assert 'name="csrfmiddlewaretoken"' in html


def test_the_triage_history_names_who_did_what_to_signed_in_users(client, seeded):
    user = User.objects.create_user("bob")
    TriageEvent.objects.create(summary=seeded.summary, user=user, action="status", old="untriaged", new="fixed",
                               note="reverted in c13")
    client.force_login(User.objects.create_user("reader"))
    html = page(client, seeded)
    assert "<b>bob</b>" in html and "reverted in c13" in html


def test_anonymous_visitors_see_what_was_done_but_not_who_did_it(client, seeded):
    from regressions.triage import set_summary_status

    set_summary_status(seeded.summary, "fixed", User.objects.create_user("bob-the-triager"), "reverted in c13")
    html = page(client, seeded)
    assert "bob-the-triager" not in html
    assert "<b>someone</b>" in html and "reverted in c13" in html and "triaged" in html


def test_an_unknown_summary_is_404(client, db):
    assert client.get("/alerts/99999/").status_code == 404


def test_the_alert_list_filters_by_status(client, seeded):
    assert len(table_rows(client.get("/alerts/?status=untriaged").content.decode(), "summaries")) == 1
    assert table_rows(client.get("/alerts/?status=fixed").content.decode(), "summaries") == []


def test_signed_in_users_can_reassign_an_alert_to_another_summary_of_the_project(client, seeded):
    from regressions.models import AlertSummary

    other = AlertSummary.objects.create(key="other", project=seeded.summary.project)
    client.force_login(User.objects.create_user("cy"))
    html = page(client, seeded)
    assert 'class="reassign"' in html and f'<option value="{other.pk}">#{other.pk} (untriaged)</option>' in html


def test_without_another_summary_there_is_nothing_to_reassign_to(client, seeded):
    client.force_login(User.objects.create_user("dee"))
    assert 'class="reassign"' not in page(client, seeded)

"""The alert page's Bisection section: status, series, culprit with its link,
every step with its runs, and the start/cancel buttons for signed-in users."""
import pytest
from django.contrib.auth.models import User

from bisection.models import CANCELLED, RUNNING, Bisection
from tests.notify.culprits import CULPRIT_AUTHOR, CULPRIT_SHA, make_bisection

from .helpers import table_rows
from .seed import MACHINES

REPO = "https://github.com/example/roofwatch-models"


@pytest.fixture
def summary(seeded):
    return seeded.summary


def page(client, summary) -> str:
    return client.get(f"/alerts/{summary.pk}/").content.decode()


def test_a_found_bisection_shows_its_culprit_with_a_link_and_every_step(client, summary):
    run_id = summary.alerts.first().run_after_id
    bisection = make_bisection(summary, run_id=run_id)
    html = page(client, summary)
    assert f'id="bisection-{bisection.pk}"' in html and "Found the culprit." in html
    assert f'href="{REPO}/commit/{CULPRIT_SHA}"' in html
    assert "matmul: &lt;tile&gt; the inner loop &amp; unroll" in html and CULPRIT_AUTHOR in html
    assert f"on <a href=\"/machines/{MACHINES[0]}/\">{MACHINES[0]}</a>" in html
    rows = table_rows(html, f"bisect-steps-{bisection.pk}")
    assert [row["attrs"]["data-step"] for row in rows] == ["1", "2", "3", "4"]
    # step, commit, subject, runs, level, verdict: the ends first, then the search.
    assert [row["cells"][1] for row in rows] == ["c11", "c12", "1234567890", CULPRIT_SHA[:10]]
    assert [row["cells"][5] for row in rows] == ["good", "bad", "good", "culprit"]
    assert [row["cells"][4] for row in rows] == ["10.0 ms", "30.0 ms", "10.0 ms", "30.0 ms"]
    assert rows[0]["cells"][3] == f"1: {run_id}" and f'href="/runs/{run_id}/"' in html
    assert "by itself" in html


def test_a_plain_sha_when_the_repository_is_not_a_web_url(client, summary):
    bisection = make_bisection(summary)
    Bisection.objects.filter(pk=bisection.pk).update(repository="git@example.com:a/b.git")
    html = page(client, summary)
    assert f'<code class="culprit-sha">{CULPRIT_SHA}</code>' in html
    assert "/commit/" + CULPRIT_SHA not in html


def test_anonymous_readers_get_no_buttons_and_no_names(client, summary):
    ann = User.objects.create_user("ann-the-bisector")
    make_bisection(summary, status=CANCELLED, started_by=ann, cancelled_by=ann)
    make_bisection(summary, status=RUNNING)
    html = page(client, summary)
    assert 'id="bisect-start"' not in html and "data-cancel-bisection" not in html
    assert "ann-the-bisector" not in html


def test_signed_in_users_may_start_a_bisection_of_the_range(client, summary):
    client.force_login(User.objects.create_user("ann"))
    html = page(client, summary)
    assert 'id="bisect-start"' in html and "This range has not been bisected yet." in html
    assert 'name="csrfmiddlewaretoken"' in html and '"bisectionsUrl": "/api/v1/bisections/"' in html


def test_an_active_bisection_gets_a_cancel_button_instead_of_a_start(client, summary):
    client.force_login(User.objects.create_user("ann"))
    bisection = make_bisection(summary, status=RUNNING)
    html = page(client, summary)
    assert 'id="bisect-start"' not in html
    assert f'data-cancel-bisection="{bisection.pk}"' in html
    assert [row["cells"][5] for row in table_rows(html, f"bisect-steps-{bisection.pk}")] == ["good", "bad", "running"]


def test_who_started_and_cancelled_is_shown_to_signed_in_users_newest_first(client, summary):
    ann, bob = User.objects.create_user("ann"), User.objects.create_user("bob")
    old = make_bisection(summary, status=CANCELLED, started_by=ann, cancelled_by=bob)
    new = make_bisection(summary)
    client.force_login(User.objects.create_user("reader"))
    html = page(client, summary)
    assert "by ann" in html and "cancelled by bob" in html
    assert html.index(f'id="bisection-{new.pk}"') < html.index(f'id="bisection-{old.pk}"')


def test_the_cancel_button_posts_to_the_api_that_cancels(client, summary):
    """The URL the page's script builds from bisectionsUrl answers a signed-in session."""
    client.force_login(User.objects.create_user("ann"))
    bisection = make_bisection(summary, status=RUNNING)
    response = client.post(f"/api/v1/bisections/{bisection.pk}/cancel/", content_type="application/json")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert "cancelled a bisection" in page(client, summary)

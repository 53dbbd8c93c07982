"""Outbound webhooks reach public addresses only (unless
ROOFWATCH_WEBHOOK_ALLOW_PRIVATE=1, which the test settings turn on for the
loopback receivers and these tests turn off): checked when an endpoint is
saved, and again when the request connects, against the addresses the
connection then uses, so a name re-resolved to an internal address (DNS
rebinding) is refused."""
import pytest
from django.core.exceptions import ValidationError

from notify import destinations
from notify.models import Delivery, WebhookEndpoint
from notify.outbound import Outcome, file_deliveries, send
from regressions.models import Alert
from tests.notify.alerts import endpoint, make_regression

PUBLIC = "93.184.216.34"


@pytest.fixture
def private_refused(settings):
    settings.ROOFWATCH_WEBHOOK_ALLOW_PRIVATE = False


def resolving(monkeypatch, *answers: str) -> None:
    """Make every host resolve to answers[0], then answers[1], ... (the last one for good)."""
    calls = []

    def resolve(host, port):
        calls.append(host)
        return [answers[min(len(calls), len(answers)) - 1]]

    monkeypatch.setattr(destinations, "resolve", resolve)


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
    "224.0.0.1", "240.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fd12:3456::1", "ff02::1",
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254",
])
def test_internal_addresses_are_not_public(address):
    assert not destinations.is_public(address)


@pytest.mark.parametrize("address", [PUBLIC, "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_global_addresses_are_public(address):
    assert destinations.is_public(address)


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/hook", "http://localhost/hook", "http://[::1]/hook",
                                 "http://[::ffff:127.0.0.1]/hook", "http://169.254.169.254/latest/meta-data/",
                                 "http://10.0.0.5/hook", "http://no-such-host.invalid/hook"])
def test_saving_an_endpoint_that_is_not_public_is_refused(project, private_refused, url):
    with pytest.raises(ValidationError) as refused:
        WebhookEndpoint(project=project, name="hook", kind="generic", url=url).full_clean()
    assert list(refused.value.message_dict) == ["url"]


@pytest.mark.django_db
def test_saving_an_endpoint_that_resolves_to_a_public_address_is_allowed(project, private_refused, monkeypatch):
    resolving(monkeypatch, PUBLIC)
    WebhookEndpoint(project=project, name="hook", kind="generic", url="https://hooks.example/x").full_clean()


@pytest.mark.django_db
def test_the_admin_refuses_a_loopback_endpoint(admin_client, project, private_refused):
    response = admin_client.post("/admin/notify/webhookendpoint/add/", {
        "project": project.pk, "name": "local", "kind": "generic", "url": "http://localhost:6379/",
        "secret": "", "token": "", "enabled": "on"})
    assert response.status_code == 200 and "not a public address" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def _delivery(url: str | None = None) -> int:
    """The one delivery of a new regression, to a new endpoint at `url` (saved without clean(),
    as a row written before the check existed would be), else to the endpoint already saved."""
    make_regression()
    if url:
        endpoint("generic", url)
    (pk,) = file_deliveries(list(Alert.objects.values_list("pk", flat=True)))
    return pk


@pytest.mark.django_db
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_sending_to_a_loopback_receiver_is_refused_and_nothing_reaches_it(receiver, private_refused, host):
    pk = _delivery(receiver.url.replace("127.0.0.1", host))
    assert send(pk) is Outcome.GAVE_UP
    delivery = Delivery.objects.get()
    assert delivery.state == "failed" and delivery.last_error.startswith("refused: ")
    assert "not a public address" in delivery.last_error
    assert receiver.requests == []


@pytest.mark.django_db
def test_a_name_rebound_to_loopback_after_it_was_saved_is_refused(receiver, private_refused, monkeypatch, project):
    port = receiver.server.server_address[1]
    resolving(monkeypatch, PUBLIC, "127.0.0.1")  # public when saved, loopback when sent
    hook = WebhookEndpoint(project=project, name="hook", kind="generic", url=f"http://hooks.example:{port}/")
    hook.full_clean()
    hook.save()
    pk = _delivery()
    assert send(pk) is Outcome.GAVE_UP
    assert "127.0.0.1" in Delivery.objects.get().last_error
    assert receiver.requests == []


@pytest.mark.django_db
def test_the_connection_goes_to_the_address_that_was_checked(receiver, monkeypatch, project):
    """hooks.example resolves nowhere but through the check's resolver: the request arriving
    proves the connection used the checked address, with the name kept as the Host."""
    port = receiver.server.server_address[1]
    resolving(monkeypatch, "127.0.0.1")  # allowed: the test settings allow private receivers
    WebhookEndpoint.objects.create(project=project, name="hook", kind="generic", url=f"http://hooks.example:{port}/")
    pk = _delivery()
    assert send(pk) is Outcome.DELIVERED
    assert [r.headers["Host"] for r in receiver.requests] == [f"hooks.example:{port}"]

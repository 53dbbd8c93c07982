"""The client address the failure limits count by: REMOTE_ADDR, or behind the
trusted proxies (ROOFWATCH_TRUSTED_PROXIES) the right-most X-Forwarded-For
entry that is not one of them; entries a client could forge are never used."""
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from core.ratelimit import client_address, client_ip, trusted_networks


def request(remote: str, forwarded: str | None = None):
    extra = {"REMOTE_ADDR": remote} if forwarded is None else {"REMOTE_ADDR": remote, "HTTP_X_FORWARDED_FOR": forwarded}
    return RequestFactory().get("/", **extra)


def test_without_trusted_proxies_it_is_remote_addr(settings):
    settings.ROOFWATCH_TRUSTED_PROXIES = []
    assert client_ip(request("10.0.0.2", "203.0.113.7")) == "10.0.0.2"


@pytest.mark.parametrize("forwarded, client", [
    ("203.0.113.7", "203.0.113.7"),
    ("198.51.100.1, 203.0.113.7", "203.0.113.7"),  # the left entry is the client's to forge
    ("198.51.100.1, 203.0.113.7, 10.1.2.3", "203.0.113.7"),  # through two trusted proxies
    ("10.1.2.3", "10.0.0.2"),  # every hop trusted: the proxy itself
    ("", "10.0.0.2"),
    ("198.51.100.1, not-an-address", "10.0.0.2"),  # not what a proxy writes: fall back to the proxy
])
def test_behind_a_trusted_proxy_it_is_the_right_most_untrusted_hop(settings, forwarded, client):
    settings.ROOFWATCH_TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert client_ip(request("10.0.0.2", forwarded)) == client


def test_a_request_not_from_a_trusted_proxy_keeps_remote_addr(settings):
    settings.ROOFWATCH_TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert client_ip(request("198.51.100.9", "203.0.113.7")) == "198.51.100.9"


def test_ipv6_proxies_and_clients(settings):
    settings.ROOFWATCH_TRUSTED_PROXIES = ["fd00::/8", "127.0.0.1"]
    assert client_ip(request("fd00::1", "2001:db8::5, 127.0.0.1")) == "2001:db8::5"


def test_no_usable_remote_addr_is_unknown(settings):
    assert client_ip(request("")) is None and client_address(request("")) == "unknown"


def test_a_bad_entry_names_the_setting():
    with pytest.raises(ImproperlyConfigured, match="ROOFWATCH_TRUSTED_PROXIES.*'10.0.0.0/33'"):
        trusted_networks(("10.0.0.0/33",))

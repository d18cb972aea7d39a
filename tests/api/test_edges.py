"""The edges of the HTTP surface: the Host allow-list (DNS rebinding) and the security headers,
on the JSON API and on Streamlit's own pages alike."""

import pytest

from kbsync_api.edges import host_is_allowed
from kbsync_core.config import DEFAULT_ALLOWED_HOSTS, ConfigurationError, load_settings

SECURITY_HEADERS = ("content-security-policy", "x-content-type-options", "x-frame-options",
                    "referrer-policy")


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8501", "kbsync.attacker.test"])
def test_a_request_for_another_host_is_refused_in_json(api, host):
    reply = api.request("GET", "/api/health", headers={"Host": host})
    assert reply.status == 400
    assert reply.json == {
        "error": f"This server does not answer for the host {host.split(':')[0]!r}; add it to "
        "KBSYNC_ALLOWED_HOSTS."
    }


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST:8501", "127.0.0.1:8501", "[::1]:8501"])
def test_localhost_and_loopback_addresses_are_answered(api, host):
    assert api.request("GET", "/api/health", headers={"Host": host}).status == 200


def test_streamlits_own_pages_are_behind_the_allow_list_too(api):
    assert api.request("GET", "/", headers={"Host": "evil.example"}).status == 400
    assert api.request("GET", "/_stcore/health", headers={"Host": "evil.example"}).status == 400


@pytest.mark.parametrize("path", ["/api/health", "/api/nowhere", "/", "/_stcore/health"])
def test_every_answer_carries_the_security_headers(api, path):
    reply = api.request("GET", path)
    assert all(name in reply.headers for name in SECURITY_HEADERS), reply.headers
    policy = reply.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy
    assert "object-src 'none'" in policy
    assert "'unsafe-inline'" not in policy.split("script-src", 1)[1].split(";")[0]
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert reply.headers["x-frame-options"] == "DENY"


def test_host_patterns():
    allowed = ("kbsync.internal", "*.corp.example")
    assert host_is_allowed("kbsync.internal", allowed)
    assert host_is_allowed("KBSYNC.corp.example", allowed)
    assert not host_is_allowed("corp.example.evil", allowed)
    assert not host_is_allowed("kbsync.internal.evil", allowed)
    assert host_is_allowed("anything", ("*",))
    assert host_is_allowed("[::1]", DEFAULT_ALLOWED_HOSTS)


def test_the_allow_list_setting_is_checked():
    settings = load_settings({"KBSYNC_ALLOWED_HOSTS": "kbsync.internal, *.corp.example"})
    assert settings.allowed_hosts == ("kbsync.internal", "*.corp.example")
    assert load_settings({}).allowed_hosts == ("localhost", "127.0.0.1", "::1")
    with pytest.raises(ConfigurationError, match="KBSYNC_ALLOWED_HOSTS"):
        load_settings({"KBSYNC_ALLOWED_HOSTS": "evil*.example"})

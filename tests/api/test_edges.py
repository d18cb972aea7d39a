"""The edges of the HTTP surface: the address the console binds by default, the Host allow-list
(DNS rebinding) and the security headers, on the JSON API and on Streamlit's own pages alike."""

import contextlib
import ipaddress
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from kbsync_api.edges import host_is_allowed
from kbsync_core.config import DEFAULT_ALLOWED_HOSTS, ConfigurationError, load_settings
from tests.support.servers import listening_addresses, port_accepts, start_console

SECURITY_HEADERS = ("content-security-policy", "x-content-type-options", "x-frame-options",
                    "referrer-policy")


def non_loopback_addresses() -> set[str]:
    """This machine's IPv4 addresses other than 127.0.0.0/8 (`ip -4 addr` and its host name's);
    none on a machine with loopback only."""
    found = set()
    ip = shutil.which("ip")
    if ip:
        shown = subprocess.run(
            [ip, "-4", "-o", "addr", "show"], capture_output=True, text=True, check=False
        ).stdout
        found.update(line.split()[3].split("/")[0] for line in shown.splitlines())
    with contextlib.suppress(OSError):  # a host name that does not resolve
        found.update(socket.gethostbyname_ex(socket.gethostname())[2])
    return {address for address in found if not ipaddress.ip_address(address).is_loopback}


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads /proc/net/tcp (Linux)")
def test_without_server_address_the_console_listens_on_127_0_0_1_only(tmp_path):
    """`make run` passes no --server.address: `.streamlit/config.toml` binds the console to
    127.0.0.1, so that a console without login is reached from this machine only."""
    with start_console(tmp_path, address=None) as console:
        assert port_accepts(console.port)
        assert listening_addresses(console.port) == {"127.0.0.1"}
        for address in non_loopback_addresses():
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection((address, console.port), timeout=2).close()


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

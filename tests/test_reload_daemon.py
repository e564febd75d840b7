"""
End-to-end tests of reloads in the real daemon (C{twistd -n occid} over TLS
on 127.0.0.1, moto behind it): SIGHUP serves a changed configuration
without a restart and keeps the old one when the new one is bad; a new CRL
and the ban list reach connections opened before them.
"""

import http.client
import signal
import socket
import ssl
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from occid.gsi.names import slash_dn
from occid.server.banlist import SUSPENDED
from tests import gridtools
from tests.daemon import Daemon, curl, have_curl
from tests.pki import PKI

pytestmark = [
    *gridtools.grid_tools,
    pytest.mark.skipif(not have_curl(), reason="curl absent: apt-get install curl"),
]


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """The module's PKI: vomsdir entries for testvo and newvo."""
    pki = PKI(str(tmp_path_factory.mktemp("pki")))
    pki.lsc("testvo", "voms.example.org")
    pki.lsc("newvo", "voms.example.org")
    return pki


def user_proxy(pki, directory, name, vo="testvo"):
    """A new user of the PKI, its DN, and a VOMS proxy of it in C{vo}."""
    user = pki.issue_user(f"/DC=org/DC=example/OU=Users/CN={name}")
    cert, key = str(directory / f"{name}-cert.pem"), str(directory / f"{name}-key.pem")
    user.write_pair(cert, key)
    proxy = gridtools.voms_proxy_fake(pki, str(directory / f"{name}-proxy.pem"), vo=vo,
                                      fqans=[f"/{vo}"], cert=cert, key=key)
    return user, slash_dn(user.certificate.subject), proxy


class KeptAlive:
    """One TLS connection presenting a proxy, kept alive across requests."""

    def __init__(self, daemon, proxy):
        context = ssl.create_default_context(cafile=daemon.cacert)
        context.load_cert_chain(proxy)
        self.connection = http.client.HTTPSConnection("localhost", daemon.port, context=context,
                                                      timeout=30)
        self.connection.connect()
        self.socket = self.connection.sock

    def get(self, path="/-/"):
        """GET C{path} on the same connection: its status and body."""
        self.connection.request("GET", path, headers={"Accept": "text/plain"})
        response = self.connection.getresponse()
        body = response.read().decode()
        assert self.connection.sock is self.socket, "the connection was not kept alive"
        return response.status, body

    def close(self):
        self.connection.close()


@pytest.fixture
def started(pki, moto_server, tmp_path):
    """Start a daemon of C{pki} in C{tmp_path} with the given options; stopped after the test."""
    daemons = []

    def start(**options):
        daemon = Daemon(str(tmp_path / "occid"), pki, moto_server.endpoint, **options)
        daemon.start()
        daemons.append(daemon)
        return daemon

    (tmp_path / "occid").mkdir()
    yield start
    for daemon in daemons:
        assert daemon.stop()


def sighup(daemon):
    """Send SIGHUP and wait until the daemon has reloaded (or refused) the configuration."""
    mark = daemon.log_mark()
    daemon.signal(signal.SIGHUP)
    return daemon.wait_for_log("onfiguration", mark), mark


def test_revoked_on_a_kept_alive_connection(pki, started, tmp_path):
    """
    A proxy revoked while its connection is open (a new CRL in the trust
    dir, then SIGHUP) gets 401 on its next request on that same connection,
    and on a new one.
    """
    user, _, proxy = user_proxy(pki, tmp_path, "Soon Revoked")
    daemon = started()
    client = KeptAlive(daemon, proxy)
    try:
        assert client.get()[0] == 200
        pki.revoke(user)
        pki.write_crl()
        line, _ = sighup(daemon)
        assert "Reloaded the configuration" in line
        status, body = client.get()
        assert (status, "revoked" in body) == (401, True), body
    finally:
        client.close()
    result = curl(daemon, proxy)
    assert (result.status, "revoked" in result.body) == (401, True), result.body


def test_revoked_by_the_poll(pki, started, tmp_path):
    """
    Without a signal, a new CRL is found by the poll (C{poll_interval = 1})
    and a kept-alive connection of the revoked proxy gets 401 within a few
    intervals.
    """
    user, _, proxy = user_proxy(pki, tmp_path, "Polled Revoked")
    daemon = started(grid="poll_interval = 1")
    client = KeptAlive(daemon, proxy)
    try:
        assert client.get()[0] == 200
        pki.revoke(user)
        pki.write_crl()
        written = time.monotonic()
        while (answer := client.get())[0] == 200:
            assert time.monotonic() - written < 5, "the new CRL was not applied within 5 s"
            time.sleep(0.1)
        assert (answer[0], "revoked" in answer[1]) == (401, True), answer
    finally:
        client.close()
    assert "Reloaded the trust directories" in daemon.log()


def test_revoked_while_out_of_descriptors(pki, started, tmp_path):
    """
    With every descriptor of the daemon taken by idle connections
    (C{EMFILE}), the poll still reads a new CRL (with its spare
    descriptors) and a kept-alive connection of the revoked proxy gets 401;
    SIGHUP still reloads the whole configuration.
    """
    user, _, proxy = user_proxy(pki, tmp_path, "Flood Revoked")
    daemon = started(grid="poll_interval = 1", max_descriptors=128)
    client = KeptAlive(daemon, proxy)
    flood = []
    try:
        assert client.get()[0] == 200
        mark = daemon.log_mark()
        for _ in range(200):
            flood.append(socket.create_connection(("127.0.0.1", daemon.port), timeout=10))
        daemon.wait_for_log("EMFILE", mark)
        pki.revoke(user)
        pki.write_crl()
        written = time.monotonic()
        while (answer := client.get())[0] == 200:
            assert time.monotonic() - written < 10, (
                f"the new CRL was not applied within 10 s:\n{daemon.log(mark)}")
            time.sleep(0.2)
        assert (answer[0], "revoked" in answer[1]) == (401, True), answer
        line, _ = sighup(daemon)
        assert "Reloaded the configuration" in line
    finally:
        client.close()
        for connection in flood:
            connection.close()


def test_new_configuration_on_sighup(pki, started, tmp_path):
    """
    A changed C{instance_types} and account C{fqans} are served after
    SIGHUP without a restart, and the old configuration's services stop; a
    bad configuration then leaves the new one serving, with one log line
    saying why.
    """
    _, _, testvo = user_proxy(pki, tmp_path, "Test Member")
    _, _, newvo = user_proxy(pki, tmp_path, "New Member", vo="newvo")
    daemon = started()
    before = curl(daemon, testvo, "/-/", "-H", "Accept: text/plain")
    assert before.status == 200
    assert "t3.small" in before.body and "t3.large" not in before.body
    assert curl(daemon, newvo).status == 403
    daemon.rewrite_config('instance_types = ["t3.micro", "t3.small"]',
                          'instance_types = ["t3.micro", "t3.large"]')
    daemon.rewrite_config('fqans = ["/othervo"]', 'fqans = ["/othervo", "/newvo"]')
    line, mark = sighup(daemon)
    assert "Reloaded the configuration" in line
    daemon.wait_for_log("Stopped the services of generation 1", mark)
    after = curl(daemon, testvo, "/-/", "-H", "Accept: text/plain")
    assert after.status == 200
    assert "t3.large" in after.body and "t3.small" not in after.body
    assert curl(daemon, newvo).status == 200

    daemon.rewrite_config("[aws]\n", "[aws]\nthreads = 0\n")
    line, mark = sighup(daemon)
    assert line.endswith("Configuration not reloaded, the old one keeps serving: "
                         f"{daemon.config_path}: [aws] threads: must be between 1 and 200")
    logged = daemon.log(mark)
    assert "Traceback" not in logged
    assert "t3.large" in curl(daemon, testvo, "/-/", "-H", "Accept: text/plain").body
    assert curl(daemon, newvo).status == 200


def served_certificate(daemon):
    """The DER certificate a new TLS connection to the daemon is served."""
    context = ssl.create_default_context(cafile=daemon.cacert)
    with (
        socket.create_connection(("127.0.0.1", daemon.port), timeout=30) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        return tls.getpeercert(binary_form=True)


def test_new_host_certificate_on_sighup(pki, started, tmp_path):
    """A new host certificate and key are served to new connections after SIGHUP."""
    daemon = started()
    before = served_certificate(daemon)
    host = pki.issue_user(
        "/DC=org/DC=example/OU=Hosts/CN=localhost", usages=[ExtendedKeyUsageOID.SERVER_AUTH],
        extensions=[(x509.SubjectAlternativeName([x509.DNSName("localhost")]), False)])
    cert, key = tmp_path / "newcert.pem", tmp_path / "newkey.pem"
    host.write_pair(str(cert), str(key))
    daemon.rewrite_config(f'host_cert = "{pki.directory}/hostcert.pem"', f'host_cert = "{cert}"')
    daemon.rewrite_config(f'host_key = "{pki.directory}/hostkey.pem"', f'host_key = "{key}"')
    line, _ = sighup(daemon)
    assert "Reloaded the configuration" in line
    after = served_certificate(daemon)
    assert after != before
    assert after == host.certificate.public_bytes(serialization.Encoding.DER)


def test_banned_identity(pki, started, tmp_path):
    """
    A DN put on the ban list gets 403 with a message naming no rule, on
    its kept-alive connection after SIGHUP and on a new one; the log names
    the DN.  Another user is still served.
    """
    _, dn, proxy = user_proxy(pki, tmp_path, "Soon Banned")
    _, _, other = user_proxy(pki, tmp_path, "Still Welcome")
    banned = tmp_path / "banned"
    banned.write_text("# suspended users\n")
    daemon = started(grid=f'banned = "{banned}"')
    client = KeptAlive(daemon, proxy)
    try:
        assert client.get()[0] == 200
        banned.write_text(f"# suspended users\n{dn}  # incident 42\n")
        sighup(daemon)
        mark = daemon.log_mark()
        status, body = client.get()
        assert (status, SUSPENDED in body) == (403, True), body
    finally:
        client.close()
    assert dn in daemon.wait_for_log("on the ban list", mark)
    result = curl(daemon, proxy)
    assert (result.status, SUSPENDED in result.body) == (403, True), result.body
    assert "ban" not in result.body.lower()
    assert curl(daemon, other).status == 200

"""
End-to-end tests of the daemon: C{twistd -n occid --config FILE} listening
with TLS on 127.0.0.1, a moto EC2 server behind it, proxies made by
C{voms-proxy-fake} and C{grid-proxy-init} as well as by the Python factory,
and curl (or Python's C{ssl} where curl refuses to send) as the client.
"""

import signal
import socket
import ssl
import subprocess
import time

import pytest

from tests import gridtools
from tests.daemon import Daemon, curl, have_curl, started
from tests.pki import PKI
from tests.vomsfactory import build_ac, voms_proxy

pytestmark = [
    *gridtools.grid_tools,
    pytest.mark.skipif(not have_curl(), reason="curl absent: apt-get install curl"),
]


CREATE_COMPUTE = (
    'Category: compute; scheme="http://schemas.ogf.org/occi/infrastructure#"; class="kind"\n'
    'Category: ami-0a1b2c3d4e5f60001; '
    'scheme="http://occi.localhost/occi/infrastructure/os_tpl#"; class="mixin"\n'
    'X-OCCI-Attribute: occi.core.title="not allowed"\n'
)


def _logged_after(daemon, mark, first_words, timeout=10.0):
    """The daemon's first log line after C{mark} starting with C{first_words} (waiting for it)."""
    deadline = time.monotonic() + timeout
    while True:
        for line in daemon.log(mark).splitlines():
            if first_words in line:
                return line
        assert time.monotonic() < deadline, f"no log line with {first_words!r}:\n{daemon.log(mark)}"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """The module's PKI: vomsdir entries for testvo and othervo, a revoked user, a rogue CA."""
    pki = PKI(str(tmp_path_factory.mktemp("pki")))
    pki.lsc("testvo", "voms.example.org")
    pki.lsc("othervo", "voms.example.org")
    pki.lsc("unmapped", "voms.example.org")
    pki.revoked_user = pki.issue_user("/DC=org/DC=example/OU=Users/CN=Revoked User")
    pki.revoke(pki.revoked_user)
    pki.write_crl()
    pki.rogue_ca = pki.issue_ca("/DC=org/DC=example/CN=Rogue Grid CA", trusted=False)
    return pki


@pytest.fixture(scope="module")
def daemon(pki, moto_server, tmp_path_factory):
    """One daemon for the module, with limited proxies read-only."""
    daemon = Daemon(str(tmp_path_factory.mktemp("occid")), pki, moto_server.endpoint)
    yield from started(daemon)


@pytest.fixture(scope="module")
def proxies(pki, tmp_path_factory):
    """Proxy files, made once: name -> path."""
    out = tmp_path_factory.mktemp("proxies")

    def path(name):
        return str(out / f"{name}.pem")

    made = {}
    made["voms"] = gridtools.voms_proxy_fake(
        pki, path("voms"), vo="testvo", fqans=["/testvo", "/testvo/Role=NULL"])
    made["delegated"] = gridtools.grid_proxy_init(
        pki, path("delegated"), cert=made["voms"], key=made["voms"])
    made["othervo"] = gridtools.voms_proxy_fake(pki, path("othervo"), vo="othervo", fqans=["/othervo"])
    made["unmapped"] = gridtools.voms_proxy_fake(pki, path("unmapped"), vo="unmapped", fqans=["/unmapped"])
    made["rfc"] = gridtools.grid_proxy_init(pki, path("rfc"))
    made["expired"] = gridtools.voms_proxy_fake(
        pki, path("expired"), vo="testvo", fqans=["/testvo"], pastproxy="48:00", hours=1,
        extra_args=["-vomslife", "100"],
    )
    made["limited"] = gridtools.voms_proxy_fake(
        pki, path("limited"), vo="testvo", fqans=["/testvo"], limited=True)
    rogue_voms = pki.issue_user("/DC=org/DC=example/OU=Services/CN=voms.example.org", ca=pki.rogue_ca)
    rogue_voms.write_pair(path("rogue-vomscert"), path("rogue-vomskey"))
    made["forged-ac"] = gridtools.voms_proxy_fake(
        pki, path("forged-ac"), vo="testvo", fqans=["/testvo"],
        hostcert=path("rogue-vomscert"), hostkey=path("rogue-vomskey"),
    )
    revoked = pki.revoked_user
    revoked.write_pair(path("revoked-cert"), path("revoked-key"))
    made["revoked"] = gridtools.voms_proxy_fake(
        pki, path("revoked"), vo="testvo", fqans=["/testvo"],
        cert=path("revoked-cert"), key=path("revoked-key"),
    )
    wrong = pki.issue_user("/DC=org/DC=example/OU=Users/CN=Test User", ca=pki.rogue_ca)
    wrong.write_pair(path("wrong-cert"), path("wrong-key"))
    made["wrong-ca"] = gridtools.voms_proxy_fake(
        pki, path("wrong-ca"), vo="testvo", fqans=["/testvo"],
        cert=path("wrong-cert"), key=path("wrong-key"),
    )
    # Shapes the C tools refuse to build.
    made["independent"] = pki.issue_proxy(
        pki.user, policy_oid="1.3.6.1.5.5.7.21.2").write(path("independent"))
    made["two-cns"] = pki.issue_proxy(pki.user, extra_cn=True).write(path("two-cns"))
    limited_ac = build_ac(
        signer=pki.voms, holder=pki.user.certificate, now=pki.now, vo="testvo", fqans=["/testvo"])
    made["full-under-limited"] = pki.issue_proxy(
        voms_proxy(pki, pki.user, limited_ac, limited=True)).write(path("ful"))
    # Another user's AC in my proxy.
    other = pki.issue_user("/DC=org/DC=example/OU=Users/CN=Other User")
    stolen = build_ac(signer=pki.voms, holder=other.certificate, now=pki.now, vo="testvo", fqans=["/testvo"])
    made["stolen-ac"] = voms_proxy(pki, pki.user, stolen).write(path("stolen-ac"))
    made["weak"] = pki.issue_proxy(pki.user, key_size=1024).write(path("weak"))
    return made


def test_voms_proxy_fake_proxy(daemon, proxies):
    """A voms-proxy-fake proxy of a configured VO gets 200 on /-/ with the OCCI model."""
    result = curl(daemon, proxies["voms"])
    assert result.status == 200, result.body
    assert "Category: compute;" in result.body
    assert "Server: occid/" in result.headers and "OCCI/1.1" in result.headers
    assert "user='/DC=org/DC=example/OU=Users/CN=Test User' account=" in daemon.log()


def test_grid_proxy_init_delegated_from_it(daemon, proxies):
    """A grid-proxy-init -rfc proxy made from the VOMS proxy keeps its AC: 200."""
    assert curl(daemon, proxies["delegated"]).status == 200


def test_well_known_identical(daemon, proxies):
    """/.well-known/org/ogf/occi/-/ answers the same bytes as /-/."""
    first = curl(daemon, proxies["voms"], "/-/")
    second = curl(daemon, proxies["voms"], "/.well-known/org/ogf/occi/-/")
    assert (first.status, first.body) == (second.status, second.body)


@pytest.mark.parametrize(
    "name, reason",
    [
        ("expired", "expired"),
        ("revoked", "revoked"),
        ("wrong-ca", "is not a CA this site trusts"),
        ("independent", "independent proxy"),
        ("two-cns", "CN"),
    ],
)
def test_refused_chains(daemon, proxies, name, reason):
    """Bad and hostile proxies get 401; the reason is in the body and the log."""
    mark = daemon.log_mark()
    result = curl(daemon, proxies[name])
    assert result.status == 401, result.body
    assert reason.lower() in result.body.lower()
    assert "WWW-Authenticate" in result.headers
    assert "Server: occid/" in result.headers
    logged = _logged_after(daemon, mark, "Refused client 127.0.0.1")
    assert reason.lower() in logged.lower()


def test_no_certificate(daemon):
    """No client certificate: 401 telling the user how to present one."""
    mark = daemon.log_mark()
    result = curl(daemon, None)
    assert result.status == 401
    assert "no client certificate was presented" in result.body
    assert "present your proxy" in result.body
    assert "no client certificate" in _logged_after(daemon, mark, "Refused client 127.0.0.1")


def test_weak_key_through_python_ssl(daemon, proxies, pki):
    """
    A 1024-bit proxy key, which curl refuses to send, reaches occid through
    Python's ssl module and is refused with 401.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    context.load_verify_locations(daemon.cacert)
    context.load_cert_chain(proxies["weak"])
    with (
        socket.create_connection(("127.0.0.1", daemon.port), timeout=30) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        tls.sendall(b"GET /-/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := tls.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 401")
    assert b"1024" in body or b"key" in body.lower()


def test_unconfigured_vo(daemon, proxies):
    """A proxy of a VO without an account here gets 403 naming the VO, on /-/ too."""
    result = curl(daemon, proxies["unmapped"])
    assert result.status == 403
    assert "unmapped" in result.body
    assert curl(daemon, proxies["unmapped"], "/compute/").status == 403


def test_forged_ac(daemon, proxies):
    """An AC signed by a same-DN VOMS certificate of a rogue CA: 403, the log says why."""
    mark = daemon.log_mark()
    result = curl(daemon, proxies["forged-ac"])
    assert result.status == 403
    assert "VOMS" in result.body
    logged = _logged_after(
        daemon, mark, "Dropped an attribute certificate of /DC=org/DC=example/OU=Users/CN=Test User"
    )
    assert ": V4: " in logged


def test_stolen_ac(daemon, proxies):
    """Another user's AC inside my proxy: 403, and the holder mismatch is logged."""
    mark = daemon.log_mark()
    result = curl(daemon, proxies["stolen-ac"])
    assert result.status == 403
    assert ": V2: " in _logged_after(daemon, mark, "Dropped an attribute certificate of")


def test_rfc_proxy_without_voms(daemon, proxies):
    """A plain RFC proxy (no AC) is authenticated but served by no account: 403."""
    result = curl(daemon, proxies["rfc"])
    assert result.status == 403
    assert "VOMS" in result.body


def test_limited_proxy_read_only(daemon, proxies):
    """In read-only mode a limited proxy may read but not write."""
    assert curl(daemon, proxies["limited"]).status == 200
    write = curl(daemon, proxies["limited"], "/compute/", "-X", "POST", "-H", "Content-Type: text/plain",
                 "--data-binary", CREATE_COMPUTE)
    assert write.status == 403
    assert "limited" in write.body.lower()


def test_full_proxy_under_limited_is_limited(daemon, proxies):
    """
    A full proxy delegated from a limited VOMS proxy stays limited (rule
    C7): it may read, not write.
    """
    assert curl(daemon, proxies["full-under-limited"]).status == 200
    write = curl(daemon, proxies["full-under-limited"], "/compute/", "-X", "POST",
                 "-H", "Content-Type: text/plain", "--data-binary", CREATE_COMPUTE)
    assert write.status == 403
    assert "limited" in write.body


def test_limited_proxy_refused(pki, moto_server, proxies, tmp_path):
    """With C{limited_proxies = "refuse"} a limited proxy gets 403 on everything."""
    daemon = Daemon(str(tmp_path), pki, moto_server.endpoint, grid='limited_proxies = "refuse"')
    daemon.start()
    try:
        result = curl(daemon, proxies["limited"])
        assert result.status == 403
        assert "limited" in result.body.lower()
        assert curl(daemon, proxies["voms"]).status == 200
    finally:
        assert daemon.stop()


def test_revocation_takes_effect_on_sighup(pki, moto_server, tmp_path):
    """
    A new CRL in the trust dir (as fetch-crl writes it) is used by the
    running daemon after SIGHUP: no restart, and the cached principal is gone.
    """
    user = pki.issue_user("/DC=org/DC=example/OU=Users/CN=Soon Revoked")
    user.write_pair(str(tmp_path / "cert.pem"), str(tmp_path / "key.pem"))
    proxy = gridtools.voms_proxy_fake(pki, str(tmp_path / "proxy.pem"), vo="testvo", fqans=["/testvo"],
                                      cert=str(tmp_path / "cert.pem"), key=str(tmp_path / "key.pem"))
    daemon = Daemon(str(tmp_path), pki, moto_server.endpoint)
    daemon.start()
    try:
        assert curl(daemon, proxy).status == 200
        pki.revoke(user)
        pki.write_crl()
        daemon.signal(signal.SIGHUP)
        deadline = time.monotonic() + 30
        while "Reloaded the configuration" not in daemon.log():
            assert time.monotonic() < deadline, daemon.log()
            time.sleep(0.1)
        result = curl(daemon, proxy)
        assert result.status == 401
        assert "revoked" in result.body
    finally:
        assert daemon.stop()


def test_bad_config_exits_before_listening(pki, moto_server, tmp_path):
    """A bad configuration stops twistd with a message naming file, key and problem."""
    daemon = Daemon(str(tmp_path), pki, moto_server.endpoint, aws="threads = 0")
    result = subprocess.run(daemon.command(), cwd=daemon.directory, env=daemon.environment(),
                            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert result.returncode != 0
    assert f"{daemon.config_path}: [aws] threads: must be between 1 and 200" in result.stdout + result.stderr
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", daemon.port), timeout=1).close()

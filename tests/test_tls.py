"""
Tests for L{occid.server.tls} (rule C1) and L{occid.server.channel} (the
connection's principal): real pyOpenSSL handshakes over memory BIOs against
the context occid listens with, and the channel that authenticates its peer
once per connection, on the reactor's clock.
"""

import contextlib
import os
import shutil
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import serialization
from OpenSSL import SSL
from OpenSSL.crypto import X509StoreFlags
from twisted.internet.address import IPv4Address
from twisted.internet.interfaces import ISystemHandle
from twisted.internet.task import Clock
from twisted.internet.testing import EventLoggingObserver
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from occid.gsi.principal import CertificateRejected
from occid.gsi.trust import TrustStore
from occid.occi.errors import Unauthorized
from occid.server import tls
from occid.server.channel import GridHTTPChannel
from occid.server.credentials import make_identify
from occid.server.tls import GridServerTLS, build_context, verify_record
from occid.testing import make_principal
from tests.pki import PKI

# OpenSSL verification error numbers the tests expect.
X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY = 20
X509_V_ERR_CERT_REVOKED = 23
X509_V_ERR_PROXY_CERTIFICATES_NOT_ALLOWED = 40


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """One PKI for the module, with a revoked user and a rogue CA's user."""
    pki = PKI(str(tmp_path_factory.mktemp("pki")))
    pki.revoked = pki.issue_user("/DC=org/DC=example/OU=Users/CN=Revoked User")
    pki.revoke(pki.revoked)
    pki.write_crl()
    rogue = pki.issue_ca("/DC=org/DC=example/CN=Rogue Grid CA", trusted=False)
    pki.rogue_user = pki.issue_user("/DC=org/DC=example/OU=Users/CN=Test User", ca=rogue)
    return pki


def server_context(pki, check_crls=True):
    return build_context(
        os.path.join(pki.directory, "hostcert.pem"),
        os.path.join(pki.directory, "hostkey.pem"),
        TrustStore.load(pki.certificates_dir, datetime.now(UTC)),
        check_crls,
    )


def client_context(credential=None, version=None):
    """A client context presenting C{credential} (leaf + chain), trusting nothing."""
    context = SSL.Context(SSL.TLS_METHOD)
    context.set_verify(SSL.VERIFY_NONE, lambda *a: True)
    if version is not None:
        context.set_min_proto_version(version)
        context.set_max_proto_version(version)
        context.set_cipher_list(b"DEFAULT:@SECLEVEL=0")
    if credential is not None:
        context.use_certificate(credential.certificate)
        context.use_privatekey(credential.private_key)
        for certificate in credential.chain[1:]:
            context.add_extra_chain_cert(certificate)
    return context


def handshake(server_tls, client_ctx, session=None):
    """Run a TLS handshake in memory; return (server, client) connections."""
    server = server_tls.serverConnectionForTLS(None)
    server.set_accept_state()
    client = SSL.Connection(client_ctx, None)
    if session is not None:
        client.set_session(session)
    client.set_connect_state()
    for _ in range(20):
        for connection in (client, server):
            with contextlib.suppress(SSL.WantReadError):
                connection.do_handshake()
        moved = False
        for source, sink in ((client, server), (server, client)):
            try:
                data = source.bio_read(65536)
            except SSL.WantReadError:
                continue
            sink.bio_write(data)
            moved = True
        if not moved:
            break
    # Finish: TLS 1.3 servers send tickets after the handshake, if enabled.
    for source, sink in ((server, client),):
        try:
            sink.bio_write(source.bio_read(65536))
            sink.recv(1)
        except (SSL.WantReadError, SSL.Error):
            pass
    return server, client


class TestContext:
    """The context occid listens with (rule C1)."""

    def test_proxy_chain_accepted_by_openssl(self, pki):
        """An RFC proxy passes OpenSSL: proxies are allowed on the store."""
        proxy = pki.issue_proxy(pki.user)
        server, _ = handshake(GridServerTLS(server_context(pki)), client_context(proxy))
        assert verify_record(server).errors == []
        assert server.get_peer_certificate(as_cryptography=True) == proxy.certificate
        assert [c for c in server.get_peer_cert_chain(as_cryptography=True)] == proxy.chain[1:]

    def test_proxy_refused_without_the_proxy_flag(self, pki, monkeypatch):
        """Control: the same chain on a store without the proxy flag gets error 40."""
        monkeypatch.setattr(tls, "STORE_FLAGS", X509StoreFlags.CRL_CHECK | X509StoreFlags.CRL_CHECK_ALL)
        context = server_context(pki)
        proxy = pki.issue_proxy(pki.user)
        server, _ = handshake(GridServerTLS(context), client_context(proxy))
        assert (0, X509_V_ERR_PROXY_CERTIFICATES_NOT_ALLOWED) in verify_record(server).errors

    def test_revoked_eec_recorded_under_a_proxy(self, pki):
        """CRLs are checked on the whole chain: a revoked EEC under its proxy is seen."""
        proxy = pki.issue_proxy(pki.revoked)
        server, _ = handshake(GridServerTLS(server_context(pki)), client_context(proxy))
        assert (1, X509_V_ERR_CERT_REVOKED) in verify_record(server).errors

    def test_store_in_memory(self, pki, tmp_path):
        """
        The store holds the trust dir's CAs and CRLs in memory: handshakes
        read no file (here the directory is gone before the handshake).
        """
        copy = tmp_path / "certificates"
        shutil.copytree(pki.certificates_dir, copy)
        context = build_context(
            os.path.join(pki.directory, "hostcert.pem"),
            os.path.join(pki.directory, "hostkey.pem"),
            TrustStore.load(str(copy), datetime.now(UTC)),
            True,
        )
        shutil.rmtree(copy)
        good, revoked = pki.issue_proxy(pki.user), pki.issue_proxy(pki.revoked)
        server, _ = handshake(GridServerTLS(context), client_context(good))
        assert verify_record(server).errors == []
        server, _ = handshake(GridServerTLS(context), client_context(revoked))
        assert (1, X509_V_ERR_CERT_REVOKED) in verify_record(server).errors

    def test_crl_checks_off(self, pki):
        """With C{crl = "off"} OpenSSL does not look for CRLs at all."""
        proxy = pki.issue_proxy(pki.revoked)
        server, _ = handshake(GridServerTLS(server_context(pki, False)), client_context(proxy))
        assert verify_record(server).errors == []

    def test_bad_chain_finishes_the_handshake(self, pki):
        """An untrusted chain is recorded, not refused: the validator explains it over HTTP."""
        proxy = pki.issue_proxy(pki.rogue_user)
        server, client = handshake(GridServerTLS(server_context(pki)), client_context(proxy))
        assert (1, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY) in verify_record(server).errors
        client.send(b"ping")
        server.bio_write(client.bio_read(65536))
        assert server.recv(4) == b"ping"

    def test_no_certificate_finishes_the_handshake(self, pki):
        """A client without a certificate gets through the handshake, with no peer."""
        server, client = handshake(GridServerTLS(server_context(pki)), client_context())
        assert server.get_peer_certificate() is None
        assert client.get_protocol_version_name() in ("TLSv1.2", "TLSv1.3")

    def test_trust_dir_cas_advertised(self, pki):
        """The CertificateRequest lists the trust dir's CAs, so clients pick their proxy."""
        _, client = handshake(GridServerTLS(server_context(pki)), client_context())
        names = [name.der() for name in client.get_client_ca_list()]
        assert pki.ca.certificate.subject.public_bytes() in names

    def test_tls_1_1_refused(self, pki):
        """Clients limited to TLS 1.1 cannot connect."""
        with pytest.raises(SSL.Error):
            server, _ = handshake(
                GridServerTLS(server_context(pki)), client_context(version=SSL.TLS1_1_VERSION)
            )
            server.do_handshake()

    @pytest.mark.parametrize("version", [SSL.TLS1_2_VERSION, SSL.TLS1_3_VERSION])
    def test_no_resumption(self, pki, version):
        """
        A second connection offering the first one's session gets a full
        handshake, with the whole chain: a resumed session may carry no chain.
        """
        proxy = pki.issue_proxy(pki.user)
        server, client = self._second_connection(GridServerTLS(server_context(pki)), proxy, version)
        assert not _session_reused(client)
        assert server.get_peer_cert_chain(as_cryptography=True) == proxy.chain[1:]

    def test_resumption_control(self, pki):
        """Control: the same client resumes against a context with a session cache."""
        context = server_context(pki)
        context.set_session_cache_mode(SSL.SESS_CACHE_SERVER)
        context.set_session_id(b"occid-test")
        proxy = pki.issue_proxy(pki.user)
        _, client = self._second_connection(GridServerTLS(context), proxy, SSL.TLS1_2_VERSION)
        assert _session_reused(client)

    @staticmethod
    def _second_connection(server_tls, proxy, version):
        context = client_context(proxy, version=version)
        context.set_cipher_list(b"DEFAULT")
        context.set_session_cache_mode(SSL.SESS_CACHE_CLIENT)
        _, first = handshake(server_tls, context)
        return handshake(server_tls, context, session=first.get_session())

    def test_replaced_context_for_new_connections(self, pki):
        """After L{GridServerTLS.replace} new connections use the new context."""
        tls = GridServerTLS(server_context(pki))
        replacement = server_context(pki)
        tls.replace(replacement)
        assert tls.serverConnectionForTLS(None).get_context() is replacement

    def test_key_mismatch(self, pki, tmp_path):
        """A host key that is not the certificate's stops the context."""
        other = tmp_path / "other.pem"
        other.write_bytes(
            pki.user.private_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )
        )
        with pytest.raises(SSL.Error):
            build_context(
                os.path.join(pki.directory, "hostcert.pem"),
                str(other),
                TrustStore.load(pki.certificates_dir, datetime.now(UTC)),
                True,
            )


def _session_reused(connection) -> bool:
    """OpenSSL's SSL_session_reused, which pyOpenSSL does not expose."""
    from OpenSSL._util import lib

    return bool(lib.SSL_session_reused(connection._ssl))


@implementer(ISystemHandle)
class FakeTransport:
    """The parts of a TLS transport the channel uses."""

    def __init__(self, connection):
        self.connection = connection

    def getHandle(self):
        return self.connection

    def getPeer(self):
        return IPv4Address("TCP", "127.0.0.1", 40000)


class FakeAuthenticator:
    """Records what it was asked and answers with a fixed outcome, in its C{epoch}."""

    def __init__(self, outcome):
        self.outcome = outcome
        self.calls = []
        self.epoch = 0

    def authenticate(self, chain, tls_errors, now):
        self.calls.append((chain, tls_errors, now))
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


class ChannelTests(SynchronousTestCase):
    """L{GridHTTPChannel} authenticates once per connection; L{identify} reads it."""

    def setUp(self):
        import tempfile

        self.pki = PKI(tempfile.mkdtemp())
        self.tls = GridServerTLS(server_context(self.pki))
        self.clock = Clock()
        self.clock.advance(datetime.now(UTC).timestamp())

    def channel_for(self, credential, outcome):
        server, _ = handshake(self.tls, client_context(credential))
        authenticator = FakeAuthenticator(outcome)
        channel = GridHTTPChannel(authenticator, self.clock)
        channel.transport = FakeTransport(server)
        channel.handshakeCompleted()
        return channel, authenticator

    def test_whole_chain_handed_to_the_authenticator(self):
        """The leaf and the chain the client sent, with OpenSSL's verdicts, are validated."""
        proxy = self.pki.issue_proxy(self.pki.issue_proxy(self.pki.user))
        principal = make_principal()
        channel, authenticator = self.channel_for(proxy, principal)
        [(chain, errors, _)] = authenticator.calls
        self.assertEqual(chain, proxy.chain)
        self.assertEqual(errors, [])
        self.assertIs(identify(FakeRequest(channel)), principal)

    def test_judged_on_the_reactor_clock(self):
        """The chain is judged at the time of the channel's clock, not the wall clock."""
        self.clock = Clock()
        self.clock.advance(86400)
        _, authenticator = self.channel_for(self.pki.issue_proxy(self.pki.user), make_principal())
        [(_, _, now)] = authenticator.calls
        self.assertEqual(now, datetime.fromtimestamp(86400, UTC))

    def test_refused_chain(self):
        """A refused chain makes every request 401 with the reason and its fix, logged once."""
        observer = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        refusal = CertificateRejected("C9", "your proxy expired", "renew it with voms-proxy-init")
        channel, _ = self.channel_for(self.pki.issue_proxy(self.pki.user), refusal)
        for _ in range(2):
            with self.assertRaises(Unauthorized) as e:
                identify(FakeRequest(channel))
            self.assertIn("your proxy expired; renew it with voms-proxy-init", e.exception.message)
            self.assertIn(("WWW-Authenticate", 'X509 realm="occid"'), e.exception.headers)
        events = [e for e in observer if e.get("rule") == "C9"]
        self.assertEqual(len(events), 1)
        self.assertEqual(events[0]["reason"], "your proxy expired")

    def test_unreadable_chain(self):
        """
        A parser error inside the validator (a malformed extension) is a 401
        with a reason, logged with its traceback, never an error escaping
        into the TLS protocol.
        """
        channel, _ = self.channel_for(self.pki.issue_proxy(self.pki.user), ValueError("duplicate extension"))
        self.assertEqual(len(self.flushLoggedErrors(ValueError)), 1)
        with self.assertRaises(Unauthorized) as e:
            identify(FakeRequest(channel))
        self.assertIn("could not be read", e.exception.message)

    def test_no_certificate(self):
        """A connection without a client certificate is told how to present one."""
        refusal = CertificateRejected("C2", "no client certificate", "present your proxy")
        channel, authenticator = self.channel_for(None, refusal)
        self.assertEqual(authenticator.calls[0][0], [])
        with self.assertRaises(Unauthorized):
            identify(FakeRequest(channel))

    def test_validated_again_in_a_new_epoch(self):
        """
        When the trust changes (a new epoch), the next request validates the
        kept chain once again: a proxy revoked since the handshake is
        refused on its open connection, and validated once per epoch only.
        """
        proxy = self.pki.issue_proxy(self.pki.user)
        channel, authenticator = self.channel_for(proxy, make_principal())
        identify(FakeRequest(channel))
        self.assertEqual(len(authenticator.calls), 1)
        authenticator.outcome = CertificateRejected("C5", "your certificate is revoked", "ask your CA")
        authenticator.epoch = 1
        for _ in range(2):
            with self.assertRaises(Unauthorized) as e:
                identify(FakeRequest(channel))
            self.assertIn("revoked", e.exception.message)
        self.assertEqual(len(authenticator.calls), 2)
        self.assertEqual(authenticator.calls[1][0], proxy.chain)

    def test_never_authenticated(self):
        """A channel that never completed authentication has no principal: 401."""
        with self.assertRaises(Unauthorized) as e:
            identify(FakeRequest(GridHTTPChannel(FakeAuthenticator(None), self.clock)))
        self.assertIn("no client certificate", e.exception.message)


#: The daemon's C{identify} where only proxies are accepted.
identify = make_identify(None, Clock())


class FakeRequest:
    """The part of a request L{identify} reads: its channel."""

    def __init__(self, channel):
        self.channel = channel

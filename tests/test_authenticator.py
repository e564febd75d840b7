"""
Tests for L{occid.gsi.authenticator}: chain + ACs -> Principal, dropped-AC
logging, and the validated-principal cache (hits, expiry, LRU bound,
reload).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from zope.interface.verify import verifyObject

from occid.gsi import authenticator as authenticator_module
from occid.gsi import vomssigner as vomssigner_module
from occid.gsi.authenticator import GridAuthenticator, chain_key
from occid.gsi.chain import ChainOptions
from occid.gsi.principal import CertificateRejected
from occid.gsi.proxycert import PCI
from occid.gsi.trust import TrustStore
from occid.gsi.vomsdir import VomsDir
from occid.interfaces import IAuthenticator
from tests.pki import CA_DN, PKI, USER_DN, with_extension_twice
from tests.vomsfactory import build_ac, voms_proxy

NOW = datetime.now(UTC).replace(microsecond=0)
HOST = "occi.example.org"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A test PKI whose vomsdir trusts the VOMS signer for testvo."""
    pki = PKI(tmp_path_factory.mktemp("pki"), now=NOW)
    pki.lsc("testvo", "voms.example.org")
    return pki


class Harness:
    """An authenticator over the PKI, recording dropped ACs and counting
    validations of client chains and of VOMS signer chains."""

    def __init__(self, pki, monkeypatch, cache_size=100):
        self.pki = pki
        self.logged = []
        self.validations = 0
        self.trust = TrustStore.load(pki.certificates_dir, NOW)
        self.authenticator = GridAuthenticator(
            self.trust, VomsDir.load(pki.vomsdir), ChainOptions(), HOST,
            lambda dn, dropped: self.logged.append((dn, dropped.rule)),
            cache_size=cache_size,
        )
        self.signer_validations = 0
        real = authenticator_module.validate_chain

        def counting(*args):
            self.validations += 1
            return real(*args)

        def counting_signers(*args):
            self.signer_validations += 1
            return real(*args)

        monkeypatch.setattr(authenticator_module, "validate_chain", counting)
        monkeypatch.setattr(vomssigner_module, "validate_chain", counting_signers)

    def voms_chain(self, **ac_options):
        """A proxy chain of the test user with a testvo AC."""
        ac = build_ac(signer=self.pki.voms, holder=self.pki.user.certificate, now=NOW, **ac_options)
        return voms_proxy(self.pki, self.pki.user, ac).chain


@pytest.fixture
def harness(pki, monkeypatch):
    """A fresh L{Harness}."""
    return Harness(pki, monkeypatch)


def test_provides_interface(harness):
    """GridAuthenticator provides IAuthenticator."""
    assert verifyObject(IAuthenticator, harness.authenticator)


def test_voms_principal(harness):
    """A VOMS proxy gives a principal with the EEC's DN and issuer, the
    chain facts and the AC's VO and FQANs; the AC's end caps not_after."""
    chain = harness.voms_chain(fqans=("/testvo/Role=NULL", "/testvo/g/Role=admin"),
                               not_after=NOW + timedelta(hours=2))
    principal = harness.authenticator.authenticate(chain, (), NOW)
    assert (principal.dn, principal.issuer_dn) == (USER_DN, CA_DN)
    assert (principal.proxy_depth, principal.limited, principal.legacy) == (1, False, False)
    assert (principal.vo, principal.fqans) == ("testvo", ("/testvo", "/testvo/g/Role=admin"))
    assert principal.not_after == NOW + timedelta(hours=2)
    assert harness.logged == []


def test_chain_end_caps_not_after(harness):
    """When the proxy ends before the AC, not_after is the proxy's end."""
    ac = build_ac(signer=harness.pki.voms, holder=harness.pki.user.certificate, now=NOW,
                  not_after=NOW + timedelta(days=2))
    proxy = voms_proxy(harness.pki, harness.pki.user, ac, lifetime=timedelta(hours=1))
    principal = harness.authenticator.authenticate(proxy.chain, (), NOW)
    assert principal.not_after == proxy.certificate.not_valid_after_utc


def test_limited_delegated_proxy(harness):
    """Depth and the limited flag come from the chain."""
    first = harness.pki.issue_proxy(harness.pki.user, limited=True)
    second = harness.pki.issue_proxy(first, limited=True)
    principal = harness.authenticator.authenticate(second.chain, (), NOW)
    assert (principal.proxy_depth, principal.limited, principal.vo) == (2, True, None)


def test_dropped_ac_logged_with_dn(harness):
    """A refused AC leaves the principal without VO, and its reason is
    logged once with the DN, also on later cache hits."""
    chain = harness.voms_chain(targets=("elsewhere.example.org",))
    for _ in range(2):
        principal = harness.authenticator.authenticate(chain, (), NOW)
    assert (principal.vo, principal.fqans) == (None, ())
    assert harness.logged == [(USER_DN, "V5")]


def test_rejected_chain(harness):
    """A chain that fails the proxy rules raises CertificateRejected."""
    with pytest.raises(CertificateRejected):
        harness.authenticator.authenticate([], (), NOW)
    rogue_ca = harness.pki.issue_ca("/DC=org/DC=example/CN=Rogue Grid CA", trusted=False)
    stranger = harness.pki.issue_proxy(harness.pki.issue_user(USER_DN, ca=rogue_ca))
    with pytest.raises(CertificateRejected):
        harness.authenticator.authenticate(stranger.chain, (), NOW)


def test_unreadable_certificates_are_refusals(harness):
    """A proxy whose extensions cannot be parsed (a repeated extension, or
    garbage in keyUsage) is a CertificateRejected, never another
    exception; a signer with a repeated extension only drops the AC."""
    proxy = harness.pki.issue_proxy(harness.pki.user)
    twice = with_extension_twice(proxy.certificate, harness.pki.user.private_key, PCI)
    garbage = x509.UnrecognizedExtension(x509.ObjectIdentifier("2.5.29.15"), b"\x01\x02garbage")
    unreadable_keyusage = harness.pki.issue_proxy(harness.pki.user, extensions=[(garbage, True)])
    for chain in ([twice, harness.pki.user.certificate], unreadable_keyusage.chain):
        with pytest.raises(CertificateRejected) as refusal:
            harness.authenticator.authenticate(chain, (), NOW)
        assert (refusal.value.rule, refusal.value.reason[:27]) == ("X509", "an unreadable certificate: ")
    signer = with_extension_twice(harness.pki.voms.certificate, harness.pki.ca.private_key, "2.5.29.15")
    principal = harness.authenticator.authenticate(harness.voms_chain(certseq=[signer]), (), NOW)
    assert principal.vo is None
    assert harness.logged == [(USER_DN, "V4")]


def test_cache_hit(harness):
    """The same chain with the same TLS errors is validated once; the
    cached principal is returned."""
    chain = harness.voms_chain()
    first = harness.authenticator.authenticate(chain, (), NOW)
    second = harness.authenticator.authenticate(list(chain), [], NOW + timedelta(minutes=1))
    assert second is first
    assert harness.validations == 1


def test_cache_key_covers_tls_errors_and_every_certificate(harness):
    """Different TLS errors, or a different certificate anywhere in the
    chain, are different cache entries."""
    chain = harness.voms_chain()
    assert chain_key(chain, ()) != chain_key(chain, ((0, 3),))
    assert chain_key(chain, ()) != chain_key([chain[0], harness.pki.voms.certificate], ())
    assert chain_key(chain, ()) != chain_key(chain[:1], ())
    assert chain_key(chain, ()) == chain_key(tuple(chain), [])
    harness.authenticator.authenticate(chain, (), NOW)
    with pytest.raises(CertificateRejected):  # OpenSSL's error counts, nothing cached hides it
        harness.authenticator.authenticate(chain, ((0, 3),), NOW)
    assert harness.validations == 2


def test_cache_expiry(harness):
    """After the principal's not_after the chain is validated again: past
    the AC's end (and its skew) the VO is gone; past the proxy's end it is
    refused."""
    chain = harness.voms_chain(not_after=NOW + timedelta(hours=1))
    principal = harness.authenticator.authenticate(chain, (), NOW)
    later = principal.not_after + timedelta(minutes=6)
    assert harness.authenticator.authenticate(chain, (), later).vo is None
    assert harness.validations == 2
    with pytest.raises(CertificateRejected):
        harness.authenticator.authenticate(chain, (), NOW + timedelta(days=1))


def test_cache_ends_when_a_future_ac_starts(harness):
    """A principal left without VO because its AC starts in the future is
    cached only until V3 accepts that AC (its start less the five-minute
    skew), then the chain is validated again and the VO appears."""
    starts = NOW + timedelta(hours=1)
    chain = harness.voms_chain(not_before=starts, not_after=NOW + timedelta(hours=3))
    principal = harness.authenticator.authenticate(chain, (), NOW)
    assert principal.vo is None
    accepted_from = starts - timedelta(minutes=5)
    assert harness.authenticator.authenticate(chain, (), accepted_from - timedelta(seconds=1)) is principal
    assert harness.validations == 1
    assert harness.authenticator.authenticate(chain, (), accepted_from).vo == "testvo"
    assert harness.validations == 2
    assert harness.logged == [(USER_DN, "V3")]


def test_cache_ends_when_a_crl_goes_out_of_date(harness):
    """
    A principal outliving its CA's CRL (fetch-crl failing, nothing in the
    trust dir changed, so no reload) is validated again once that CRL is out
    of date, and refused: a stale CRL always fails.
    """
    crl_end = harness.trust.authorities[0].crl.next_update_utc
    ac = build_ac(signer=harness.pki.voms, holder=harness.pki.user.certificate, now=NOW,
                  not_after=crl_end + timedelta(days=5))
    chain = voms_proxy(harness.pki, harness.pki.user, ac, lifetime=crl_end - NOW + timedelta(days=5)).chain
    principal = harness.authenticator.authenticate(chain, (), NOW)
    assert principal.not_after > crl_end
    assert harness.authenticator.authenticate(chain, (), crl_end - timedelta(seconds=1)) is principal
    with pytest.raises(CertificateRejected) as e:
        harness.authenticator.authenticate(chain, (), crl_end + timedelta(seconds=1))
    assert e.value.rule == "C11"


def test_cache_bounded_lru(pki, monkeypatch):
    """With room for two, the least recently used principal is forgotten."""
    harness = Harness(pki, monkeypatch, cache_size=2)
    a, b, c = (harness.voms_chain() for _ in range(3))
    for chain in (a, b, a, c):  # a is used again, so b is the oldest when c arrives
        harness.authenticator.authenticate(chain, (), NOW)
    assert harness.validations == 3
    harness.authenticator.authenticate(a, (), NOW)
    assert harness.validations == 3
    harness.authenticator.authenticate(b, (), NOW)
    assert harness.validations == 4


def test_reload(harness, tmp_path):
    """reload() forgets every principal and uses the new trust material:
    with an empty vomsdir the same chain has no VO any more."""
    chain = harness.voms_chain()
    assert harness.authenticator.authenticate(chain, (), NOW).vo == "testvo"
    harness.authenticator.reload(harness.trust, VomsDir.load(str(tmp_path)))
    assert harness.authenticator.authenticate(chain, (), NOW).vo is None
    assert harness.validations == 2
    assert harness.logged == [(USER_DN, "V4")]


def test_revoked_after_reload_not_answered_from_the_cache(harness):
    """A cached principal is refused as soon as a CRL revoking its user is
    loaded: reload() moves to a new epoch, whose cache knows nothing."""
    pki = harness.pki
    user = pki.issue_user("/DC=org/DC=example/OU=Users/CN=Cached Then Revoked")
    chain = voms_proxy(pki, user, build_ac(signer=pki.voms, holder=user.certificate, now=NOW)).chain
    epoch = harness.authenticator.epoch
    assert harness.authenticator.authenticate(chain, (), NOW).vo == "testvo"
    pki.revoke(user)
    harness.authenticator.reload(TrustStore.load(pki.certificates_dir, NOW), VomsDir.load(pki.vomsdir))
    assert harness.authenticator.epoch != epoch
    with pytest.raises(CertificateRejected) as refusal:
        harness.authenticator.authenticate(chain, (), NOW + timedelta(seconds=1))
    assert (refusal.value.rule, "has been revoked" in refusal.value.reason) == ("C11", True)


def test_signer_chain_validated_once_until_reload(harness):
    """The VOMS signer chain is validated for the first AC only (one
    validation per client chain after it), and again after a reload."""
    for _ in range(3):
        assert harness.authenticator.authenticate(harness.voms_chain(), (), NOW).vo == "testvo"
    assert (harness.validations, harness.signer_validations) == (3, 1)
    harness.authenticator.reload(harness.trust, VomsDir.load(harness.pki.vomsdir))
    assert harness.authenticator.authenticate(harness.voms_chain(), (), NOW).vo == "testvo"
    assert (harness.validations, harness.signer_validations) == (4, 2)


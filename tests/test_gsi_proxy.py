# -*- test-case-name: tests.test_gsi_proxy -*-
"""
Tests for L{occid.gsi.proxy.validate_chain}: good chains of every depth,
every hostile shape the C grid tools refuse to build (made with
L{tests.pki}), the OpenSSL error tolerance, and proxies from the real tools
cross-checked against C{openssl verify}.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from occid.gridconfig import GridConfig
from occid.gsi import proxy as proxy_module
from occid.gsi import refusal as refusal_module
from occid.gsi.chain import ChainOptions, EecCache
from occid.gsi.names import slash_dn
from occid.gsi.principal import CertificateRejected
from occid.gsi.proxy import validate_chain
from occid.gsi.proxycert import INDEPENDENT, PCI
from occid.gsi.trust import TrustStore
from tests import gridtools
from tests.pki import (
    CA_DN,
    PKI,
    USER_DN,
    cn,
    extend,
    key_usage,
    namespaces_text,
    signing_policy_text,
    with_extension_twice,
)

IF_VALID = ChainOptions()
REQUIRE = ChainOptions(crl="require")
OFF = ChainOptions(crl="off")
LEGACY = ChainOptions(legacy_proxies=True)


@pytest.fixture
def pki(tmp_path):
    return PKI(tmp_path)


def validate(pki, chain, options=IF_VALID, tls_errors=(), now=None):
    """Validate C{chain} against a freshly loaded trust dir of C{pki}."""
    store = TrustStore.load(pki.certificates_dir, pki.now)
    return validate_chain(list(chain), list(tls_errors), store, options, now or pki.now)


def rejected(rule, pki, chain, options=IF_VALID, tls_errors=(), now=None) -> CertificateRejected:
    """The refusal of C{chain}, which must name C{rule}."""
    with pytest.raises(CertificateRejected) as info:
        validate(pki, chain, options, tls_errors, now)
    assert info.value.rule == rule, info.value
    return info.value


def unknown(oid="1.2.3.4.99"):
    """An extension nobody knows."""
    return x509.UnrecognizedExtension(x509.ObjectIdentifier(oid), b"\x05\x00")


# good chains


def test_depth_one(pki):
    """A proxy of the user validates; the facts name the EEC, its CA and the proxy."""
    proxy = pki.issue_proxy(pki.user)
    facts = validate(pki, proxy.chain)
    assert facts.eec == pki.user.certificate
    assert facts.eec_dn == USER_DN
    assert facts.issuer_dn == CA_DN
    assert facts.proxies == (proxy.certificate,)
    assert facts.ac_carriers == (proxy.certificate,)
    assert facts.proxy_depth == 1
    assert not facts.limited and not facts.legacy
    assert facts.not_after == proxy.certificate.not_valid_after_utc
    assert facts.ca_path == (pki.ca.certificate,)
    assert facts.notes == ()


def test_depth_two_and_three(pki):
    """Delegated proxies (depth 2 and 3) validate; not_after is the earliest in the chain."""
    first = pki.issue_proxy(pki.user, lifetime=timedelta(hours=2))
    second = pki.issue_proxy(first)
    third = pki.issue_proxy(second)
    assert validate(pki, second.chain).proxy_depth == 2
    facts = validate(pki, third.chain)
    assert facts.proxy_depth == 3
    assert facts.proxies == (third.certificate, second.certificate, first.certificate)
    assert facts.not_after == first.certificate.not_valid_after_utc


def test_limited_and_delegated_from_limited(pki):
    """A limited proxy, and a limited proxy of a full one, are limited."""
    limited = pki.issue_proxy(pki.user, limited=True)
    assert validate(pki, limited.chain).limited
    assert validate(pki, pki.issue_proxy(pki.issue_proxy(pki.user), limited=True).chain).limited


def test_plain_end_entity_certificate(pki):
    """The user certificate alone is an identity with no proxies."""
    facts = validate(pki, [pki.user.certificate])
    assert facts.proxy_depth == 0 and facts.proxies == ()


def test_sub_ca(pki):
    """A user of a trusted sub-CA validates, with the sub-CA and the root as the CA path."""
    sub = pki.issue_ca("/DC=org/DC=example/CN=Sub CA", parent=pki.ca)
    user = pki.issue_user(USER_DN, ca=sub)
    facts = validate(pki, pki.issue_proxy(user).chain, REQUIRE)
    assert facts.ca_path == (sub.certificate, pki.ca.certificate)
    assert facts.issuer_dn == "/DC=org/DC=example/CN=Sub CA"


def test_client_sent_ca_certificates_are_ignored(pki):
    """CA certificates appended by the client change nothing; a rogue one gains nothing."""
    proxy = pki.issue_proxy(pki.user)
    assert validate(pki, proxy.chain + [pki.ca.certificate]).ca_path == (pki.ca.certificate,)
    rogue = pki.issue_ca(CA_DN, trusted=False)
    user = pki.issue_user(USER_DN, ca=rogue)
    rejected("C2", pki, pki.issue_proxy(user).chain + [rogue.certificate])


def test_options_from_config():
    """ChainOptions follow the [grid] section."""
    options = ChainOptions.from_config(GridConfig(crl="require", legacy_proxies=True))
    assert options == ChainOptions(crl="require", legacy_proxies=True, namespaces="if-present")


# C2


def test_empty_chain(pki):
    """No certificate at all is refused."""
    rejected("C2", pki, [])


def test_only_proxies(pki):
    """Proxies without their EEC are refused."""
    proxy = pki.issue_proxy(pki.user)
    rejected("C2", pki, [proxy.certificate])


def test_two_end_entity_certificates(pki):
    """A second non-CA certificate after the EEC is refused."""
    proxy = pki.issue_proxy(pki.user)
    assert "more than one" in rejected("C2", pki, proxy.chain + [pki.host.certificate]).reason


def test_proxy_without_pci_is_a_second_eec(pki):
    """A proxy-shaped certificate without PCI is an EEC signed by an EEC: refused."""
    proxy = pki.issue_proxy(pki.user, omit_pci=True)
    rejected("C2", pki, proxy.chain)


def test_eec_that_is_a_ca(pki):
    """A user certificate with cA=TRUE is refused as the EEC."""
    user = pki.issue_user(USER_DN, extensions=[(x509.BasicConstraints(ca=True, path_length=None), True)])
    assert "CA certificate" in rejected("C2", pki, pki.issue_proxy(user).chain).reason


def test_untrusted_ca(pki):
    """An EEC from a CA outside the trust dir is refused."""
    rogue = pki.issue_ca("/DC=org/DC=example/CN=Rogue Grid CA", trusted=False)
    user = pki.issue_user(USER_DN, ca=rogue)
    assert "not a CA this site trusts" in rejected("C2", pki, pki.issue_proxy(user).chain).reason


def test_rogue_ca_with_the_trusted_name(pki):
    """An EEC signed by a rogue CA bearing the trusted CA's DN is refused (key check)."""
    rogue = pki.issue_ca(CA_DN, trusted=False)
    user = pki.issue_user(USER_DN, ca=rogue)
    assert "same name" in rejected("C2", pki, pki.issue_proxy(user).chain).reason


# C3


def test_subject_not_extending_issuer(pki):
    """A proxy whose subject is not its issuer's subject plus a CN is refused."""
    proxy = pki.issue_proxy(pki.user, subject="/DC=org/DC=example/OU=Users/CN=Someone Else/CN=123")
    rejected("C3", pki, proxy.chain)


def test_two_cns_added(pki):
    """A proxy adding two CN RDNs is refused."""
    rejected("C3", pki, pki.issue_proxy(pki.user, extra_cn=True).chain)


def test_multi_valued_cn_rdn(pki):
    """A proxy whose added RDN is multi-valued is refused."""
    rdn = x509.RelativeDistinguishedName(
        [x509.NameAttribute(NameOID.COMMON_NAME, "123"), x509.NameAttribute(NameOID.USER_ID, "x")]
    )
    proxy = pki.issue_proxy(pki.user, subject=extend(pki.user.certificate.subject, rdn))
    rejected("C3", pki, proxy.chain)


def test_added_rdn_not_a_cn(pki):
    """A proxy adding an OU instead of a CN is refused."""
    rdn = x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "123")])
    proxy = pki.issue_proxy(pki.user, subject=extend(pki.user.certificate.subject, rdn))
    rejected("C3", pki, proxy.chain)


def test_slash_in_value_does_not_fool_the_name_rule(pki):
    """A proxy whose slash DN looks right but whose RDNs do not extend the parent is refused."""
    rdns = list(pki.user.certificate.subject.rdns)[:-1] + [cn("Test User/CN=1234")]
    proxy = pki.issue_proxy(pki.user, subject=x509.Name(rdns))
    rejected("C3", pki, proxy.chain)


@pytest.mark.parametrize("value", ["Test User/CN=Other User", "Test User+UID=other", "Test/2.5.4.3=x"])
def test_ambiguous_user_name(pki, value):
    """An EEC whose value reads like another attribute in slash form (so two
    different names would print the same DN) is refused, saying why."""
    rdns = list(pki.user.certificate.subject.rdns)[:-1] + [cn(value)]
    user = pki.issue_user(x509.Name(rdns))
    refusal = rejected("C3", pki, pki.issue_proxy(user).chain)
    assert refusal.reason.startswith("your certificate's subject cannot be written unambiguously in /-form")
    assert repr(value) in refusal.reason


def test_ambiguous_ca_name(pki):
    """A trusted CA whose name is ambiguous in slash form signs nobody."""
    sub_name = x509.Name([*pki.ca.certificate.subject.rdns[:-1], cn("Sub CA/OU=Users")])
    sub = pki.issue_ca(sub_name, parent=pki.ca)
    user = pki.issue_user(USER_DN, ca=sub)
    refusal = rejected("C3", pki, pki.issue_proxy(user).chain)
    assert "the CA /DC=org/DC=example/CN=Sub CA/OU=Users cannot be written unambiguously" in refusal.reason
    assert "trust dir" in refusal.fix


def test_slash_without_attribute_is_not_ambiguous(pki):
    """A '/' or '+' not followed by an attribute name and '=' is harmless."""
    rdns = list(pki.user.certificate.subject.rdns)[:-1] + [cn("Test User/Grid+x=1 a=b")]
    user = pki.issue_user(x509.Name(rdns))
    assert validate(pki, pki.issue_proxy(user).chain).eec_dn.endswith("/CN=Test User/Grid+x=1 a=b")


def test_proxy_signed_by_another_key(pki):
    """A proxy made by a same-DN user certificate is refused on the genuine EEC."""
    twin = pki.issue_user(USER_DN)
    proxy = pki.issue_proxy(twin)
    assert "not signed" in rejected("C3", pki, [proxy.certificate, pki.user.certificate]).reason


def test_issuer_not_the_parent(pki):
    """A proxy chained above the wrong parent is refused."""
    other = pki.issue_user("/DC=org/DC=example/OU=Users/CN=Other User")
    proxy = pki.issue_proxy(other)
    rejected("C3", pki, [proxy.certificate, pki.user.certificate])


# C4


def test_ca_bit_on_a_proxy(pki):
    """A proxy with cA=TRUE is refused."""
    rejected("C4", pki, pki.issue_proxy(pki.user, ca=True).chain)


def test_key_cert_sign_on_a_proxy(pki):
    """A proxy allowed to sign certificates is refused."""
    usage = key_usage(digital_signature=True, key_cert_sign=True)
    rejected("C4", pki, pki.issue_proxy(pki.user, extensions=[(usage, True)]).chain)


def test_subject_alt_name_on_a_proxy(pki):
    """A proxy with a subjectAltName is refused."""
    san = x509.SubjectAlternativeName([x509.DNSName("evil.example.org")])
    rejected("C4", pki, pki.issue_proxy(pki.user, extensions=[(san, False)]).chain)


def test_issuer_alt_name_on_a_proxy(pki):
    """A proxy with an issuerAltName is refused."""
    ian = x509.IssuerAlternativeName([x509.DNSName("evil.example.org")])
    rejected("C4", pki, pki.issue_proxy(pki.user, extensions=[(ian, False)]).chain)


def test_parent_without_digital_signature(pki):
    """A proxy from an EEC whose keyUsage lacks digitalSignature is refused."""
    user = pki.issue_user(USER_DN, extensions=[(key_usage(key_encipherment=True), True)])
    rejected("C4", pki, pki.issue_proxy(user).chain)


# C5


def test_non_critical_pci(pki):
    """A proxy whose ProxyCertInfo is not critical is refused."""
    rejected("C5", pki, pki.issue_proxy(pki.user, pci_critical=False).chain)


def test_independent_policy(pki):
    """An independent proxy is refused."""
    rejected("C5", pki, pki.issue_proxy(pki.user, policy_oid=INDEPENDENT).chain)


def test_unknown_policy(pki):
    """A proxy with an unknown policy language is refused."""
    rejected("C5", pki, pki.issue_proxy(pki.user, policy_oid="1.2.3.4.5.6").chain)


def test_malformed_pci(pki):
    """A ProxyCertInfo that is not DER of the right shape is refused."""
    garbage = x509.UnrecognizedExtension(x509.ObjectIdentifier(PCI), b"\x30\x03\x02\x01")
    rejected("C5", pki, pki.issue_proxy(pki.user, extensions=[(garbage, True)]).chain)


# C6


def test_path_length_exceeded(pki):
    """A proxy below a proxy with pathlen 0 is refused."""
    top = pki.issue_proxy(pki.user, pathlen=0)
    assert validate(pki, top.chain).proxy_depth == 1
    rejected("C6", pki, pki.issue_proxy(top).chain)


def test_path_length_counts_all_proxies_below(pki):
    """pathlen 1 allows one proxy below, not two; the constraint binds at every level."""
    top = pki.issue_proxy(pki.user, pathlen=1)
    middle = pki.issue_proxy(top)
    assert validate(pki, middle.chain).proxy_depth == 2
    rejected("C6", pki, pki.issue_proxy(middle).chain)


# C7


def test_full_proxy_under_limited_is_limited(pki):
    """A full proxy delegated from a limited one is treated as limited, and that is noted."""
    limited = pki.issue_proxy(pki.user, limited=True)
    full = pki.issue_proxy(limited)
    facts = validate(pki, full.chain)
    assert facts.limited
    assert any("treated as limited" in note for note in facts.notes)


# C8


def test_draft_proxy(pki):
    """A GSI-3 draft proxy is never accepted, even with legacy proxies enabled."""
    proxy = pki.issue_proxy(pki.user, draft=True)
    rejected("C8", pki, proxy.chain, LEGACY)


def test_legacy_proxy_needs_the_option(pki):
    """A legacy CN=proxy chain is refused by default and accepted (as legacy) when enabled."""
    proxy = pki.issue_proxy(pki.user, legacy=True)
    rejected("C8", pki, proxy.chain)
    facts = validate(pki, proxy.chain, LEGACY)
    assert facts.legacy and not facts.limited


def test_legacy_limited_proxy(pki):
    """A legacy CN=limited proxy is limited."""
    proxy = pki.issue_proxy(pki.user, legacy=True, limited=True)
    assert validate(pki, proxy.chain, LEGACY).limited


@pytest.mark.parametrize("legacy_on_top", [True, False])
def test_mixed_legacy_and_rfc(pki, legacy_on_top):
    """A chain mixing legacy and RFC proxies is refused whichever is on top."""
    first = pki.issue_proxy(pki.user, legacy=not legacy_on_top)
    proxy = pki.issue_proxy(first, legacy=legacy_on_top)
    rejected("C8", pki, proxy.chain, LEGACY)


# C9


def test_expired_proxy(pki):
    """An expired proxy is refused with the advice to renew it."""
    proxy = pki.issue_proxy(pki.user, not_before=pki.now - timedelta(hours=48), lifetime=timedelta(hours=1))
    assert "renew your proxy" in rejected("C9", pki, proxy.chain).fix


def test_proxy_not_yet_valid(pki):
    """A proxy starting in an hour is refused."""
    proxy = pki.issue_proxy(pki.user, not_before=pki.now + timedelta(hours=1))
    rejected("C9", pki, proxy.chain)


def test_proxy_grace(pki):
    """A proxy starting within five minutes is accepted (clock skew); beyond that it is refused."""
    assert validate(pki, pki.issue_proxy(pki.user, not_before=pki.now + timedelta(minutes=4)).chain)
    rejected("C9", pki, pki.issue_proxy(pki.user, not_before=pki.now + timedelta(minutes=6)).chain)


def test_validity_window_bounded_by_certificates(pki):
    """valid_from and valid_until are exactly the span in which the chain
    validates: from the proxy's start less the grace to the proxy's end."""
    proxy = pki.issue_proxy(pki.user)
    facts = validate(pki, proxy.chain)
    assert facts.valid_from == proxy.certificate.not_valid_before_utc - timedelta(minutes=5)
    assert facts.valid_until == proxy.certificate.not_valid_after_utc == facts.not_after
    second = timedelta(seconds=1)
    at_start = validate(pki, proxy.chain, now=facts.valid_from)
    assert at_start == validate(pki, proxy.chain, now=facts.valid_until)
    rejected("C9", pki, proxy.chain, now=facts.valid_from - second)
    rejected("C9", pki, proxy.chain, now=facts.valid_until + second)


def test_validity_window_bounded_by_crls(pki):
    """Without a proxy, the CA's CRL bounds the span: from its thisUpdate to
    its nextUpdate, beyond which C11 refuses."""
    chain = [pki.user.certificate]
    facts = validate(pki, chain)
    crl = TrustStore.load(pki.certificates_dir, pki.now).issuers_of(pki.user.certificate)[0].crl
    assert (facts.valid_from, facts.valid_until) == (crl.last_update_utc, crl.next_update_utc)
    assert validate(pki, chain, now=facts.valid_until).eec_dn == USER_DN
    rejected("C11", pki, chain, now=facts.valid_from - timedelta(seconds=1))
    rejected("C11", pki, chain, now=facts.valid_until + timedelta(seconds=1))


def test_names_printed_once(pki, monkeypatch):
    """A chain that validates has only its EEC's subject and issuer printed
    in slash form, however deep it is (the other names only appear in
    refusals and notes)."""
    printed = []
    for module in (proxy_module, refusal_module):
        monkeypatch.setattr(module, "slash_dn", lambda name: printed.append(name) or slash_dn(name))
    chain = pki.issue_proxy(pki.issue_proxy(pki.issue_proxy(pki.user))).chain
    validate(pki, chain)
    assert printed == [pki.user.certificate.subject, pki.user.certificate.issuer]


def test_expired_and_future_eec(pki):
    """An expired or not yet valid user certificate is refused, without any grace."""
    expired = pki.issue_user(
        USER_DN, not_before=pki.now - timedelta(days=30), not_after=pki.now - timedelta(seconds=1)
    )
    rejected("C9", pki, [expired.certificate])
    future = pki.issue_user(USER_DN, not_before=pki.now + timedelta(minutes=1))
    rejected("C9", pki, [future.certificate])


def test_expired_sub_ca(pki):
    """A user of an expired (trusted) sub-CA is refused."""
    sub = pki.issue_ca(
        "/DC=org/DC=example/CN=Old CA", parent=pki.ca,
        not_before=pki.now - timedelta(days=30), not_after=pki.now - timedelta(days=1),
    )
    user = pki.issue_user(USER_DN, ca=sub, not_before=pki.now - timedelta(days=2))
    assert "CA certificate" in rejected("C9", pki, [user.certificate]).reason


# C10


def test_unknown_critical_extension_in_proxy(pki):
    """A proxy with an unknown critical extension is refused; non-critical is fine."""
    rejected("C10", pki, pki.issue_proxy(pki.user, extensions=[(unknown(), True)]).chain)
    assert validate(pki, pki.issue_proxy(pki.user, extensions=[(unknown(), False)]).chain)


def test_unknown_critical_extension_in_eec(pki):
    """An EEC with an unknown critical extension is refused."""
    user = pki.issue_user(USER_DN, extensions=[(unknown(), True)])
    rejected("C10", pki, pki.issue_proxy(user).chain)


# unreadable certificates


def test_extension_twice_in_proxy_or_eec(pki):
    """A proxy or an EEC carrying an extension twice is refused as unreadable
    (cryptography raises DuplicateExtension when the extensions are read)."""
    proxy = pki.issue_proxy(pki.user)
    twice = with_extension_twice(proxy.certificate, pki.user.private_key, PCI)
    refusal = rejected("X509", pki, [twice, pki.user.certificate])
    assert refusal.reason == (
        "an unreadable certificate: the certificate at depth 0: "
        "the extension 1.3.6.1.5.5.7.1.14 appears twice"
    )
    user = with_extension_twice(pki.user.certificate, pki.ca.private_key, "2.5.29.15")
    assert "depth 1" in rejected("X509", pki, [proxy.certificate, user]).reason


def test_garbage_in_a_known_extension(pki):
    """A proxy whose keyUsage value is garbage is refused as unreadable."""
    garbage = x509.UnrecognizedExtension(x509.ObjectIdentifier("2.5.29.15"), b"\x01\x02garbage")
    proxy = pki.issue_proxy(pki.user, extensions=[(garbage, True)])
    assert rejected("X509", pki, proxy.chain).reason.startswith("an unreadable certificate: ")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.binary(max_size=24))
def test_garbage_pci(pki, value):
    """Whatever bytes the ProxyCertInfo holds, the verdict is facts or a
    CertificateRejected, never another exception."""
    garbage = x509.UnrecognizedExtension(x509.ObjectIdentifier(PCI), value)
    proxy = pki.issue_proxy(pki.user, extensions=[(garbage, True)])
    with contextlib.suppress(CertificateRejected):
        validate(pki, proxy.chain)


# C11


def test_revoked_user(pki):
    """A proxy of a revoked user certificate is refused in every CRL mode."""
    proxy = pki.issue_proxy(pki.user)
    pki.revoke(pki.user)
    for options in (REQUIRE, IF_VALID, OFF):
        assert "revoked" in rejected("C11", pki, proxy.chain, options).reason


def test_revoked_sub_ca(pki):
    """A user of a revoked sub-CA is refused."""
    sub = pki.issue_ca("/DC=org/DC=example/CN=Sub CA", parent=pki.ca)
    user = pki.issue_user(USER_DN, ca=sub)
    pki.revoke(sub)
    rejected("C11", pki, [user.certificate])


def test_expired_crl(pki):
    """An expired CRL fails in every mode."""
    pki.write_crl(expired=True)
    proxy = pki.issue_proxy(pki.user)
    for options in (REQUIRE, IF_VALID, OFF):
        assert "expired" in rejected("C11", pki, proxy.chain, options).reason


def test_crl_with_bad_signature(pki):
    """A CRL not signed by the CA fails in every mode."""
    pki.write_crl(bad_signature=True)
    proxy = pki.issue_proxy(pki.user)
    for options in (REQUIRE, IF_VALID, OFF):
        rejected("C11", pki, proxy.chain, options)


def test_missing_crl_per_mode(pki):
    """A missing CRL fails with require and is tolerated, with a note, with if-valid and off."""
    pki.write_crl(missing=True)
    proxy = pki.issue_proxy(pki.user)
    rejected("C11", pki, proxy.chain, REQUIRE)
    for options in (IF_VALID, OFF):
        facts = validate(pki, proxy.chain, options)
        assert any("no CRL" in note for note in facts.notes)


# C12


def test_namespaces_forbid_the_subject(pki):
    """A .namespaces file not permitting the EEC subject refuses it."""
    pki.write_namespaces(pki.ca, namespaces_text(pki.ca.certificate, "/DC=org/DC=example/OU=Hosts/.*"))
    rejected("C12", pki, pki.issue_proxy(pki.user).chain)


def test_namespaces_deny(pki):
    """A DENY rule matching the EEC subject refuses it despite a PERMIT."""
    text = namespaces_text(
        pki.ca.certificate, "/DC=org/DC=example/.*", denied=["/DC=org/DC=example/OU=Users/.*"]
    )
    pki.write_namespaces(pki.ca, text)
    rejected("C12", pki, pki.issue_proxy(pki.user).chain)


def test_signing_policy_forbids_the_subject(pki):
    """Without .namespaces, a .signing_policy not permitting the EEC subject refuses it."""
    pki.write_namespaces(pki.ca, None)
    pki.write_signing_policy(pki.ca, signing_policy_text(pki.ca.certificate, "/DC=org/DC=example/OU=Hosts/*"))
    rejected("C12", pki, pki.issue_proxy(pki.user).chain)


def test_policy_files_required(pki):
    """With namespaces="require", a CA without policy files signs nobody; if-present accepts."""
    pki.write_namespaces(pki.ca, None)
    pki.write_signing_policy(pki.ca, None)
    proxy = pki.issue_proxy(pki.user)
    assert validate(pki, proxy.chain)
    rejected("C12", pki, proxy.chain, ChainOptions(namespaces="require"))


def test_sub_ca_outside_the_root_namespace(pki):
    """A sub-CA whose name the root's namespaces do not permit cannot vouch for users."""
    sub = pki.issue_ca("/DC=org/DC=elsewhere/CN=Sub CA", parent=pki.ca)
    user = pki.issue_user(USER_DN, ca=sub)
    assert "Sub CA" in rejected("C12", pki, [user.certificate]).reason


# C13


def test_small_proxy_key(pki):
    """A 1024-bit proxy key is refused."""
    rejected("C13", pki, pki.issue_proxy(pki.user, key_size=1024).chain)


def test_small_eec_key(pki):
    """A 1024-bit user key is refused."""
    rejected("C13", pki, [pki.issue_user(USER_DN, key_size=1024).certificate])


@pytest.mark.parametrize("algorithm", [hashes.SHA1, hashes.MD5])
def test_weak_digest_on_proxy(pki, algorithm):
    """A proxy signed with SHA-1 or MD5 is refused."""
    rejected("C13", pki, pki.issue_proxy(pki.user, hash=algorithm).chain)


def test_weak_digest_on_eec(pki):
    """A user certificate signed with SHA-1 is refused."""
    rejected("C13", pki, [pki.issue_user(USER_DN, hash=hashes.SHA1).certificate])


def test_sha1_self_signed_root_is_exempt(pki):
    """A trust anchor's own SHA-1 self-signature is not held against its users."""
    root = pki.issue_ca("/DC=org/DC=example/CN=Old Root", hash=hashes.SHA1)
    user = pki.issue_user(USER_DN, ca=root)
    assert validate(pki, pki.issue_proxy(user).chain).ca_path == (root.certificate,)


def test_sha1_sub_ca_is_not_exempt(pki):
    """A sub-CA signed with SHA-1 is refused: only the anchor's self-signature is exempt."""
    sub = pki.issue_ca("/DC=org/DC=example/CN=Sub CA", parent=pki.ca, hash=hashes.SHA1)
    rejected("C13", pki, [pki.issue_user(USER_DN, ca=sub).certificate])


# what OpenSSL recorded


def test_missing_crl_error_tolerated_only_when_really_missing(pki):
    """OpenSSL error 3 passes in if-valid mode only if the trust dir indeed has no CRL."""
    proxy = pki.issue_proxy(pki.user)
    rejected("TLS", pki, proxy.chain, IF_VALID, [(1, 3)])
    pki.write_crl(missing=True)
    facts = validate(pki, proxy.chain, IF_VALID, [(1, 3)])
    assert any("OpenSSL found no CRL" in note for note in facts.notes)
    rejected("C11", pki, proxy.chain, REQUIRE, [(1, 3)])


def test_legacy_errors_tolerated_only_for_legacy(pki):
    """Errors 79, 26, 32 at the EEC and 3 at the legacy leaf pass only for an enabled legacy chain."""
    errors = [(1, 79), (1, 26), (1, 32), (0, 3)]
    legacy = pki.issue_proxy(pki.user, legacy=True)
    assert validate(pki, legacy.chain, LEGACY, errors).legacy
    rfc = pki.issue_proxy(pki.user)
    rejected("TLS", pki, rfc.chain, LEGACY, [(1, 79)])
    rejected("TLS", pki, legacy.chain, LEGACY, [(0, 79)])


@pytest.mark.parametrize(
    "error, words",
    [(10, "renew your proxy"), (20, "trust"), (23, "new certificate"), (38, "path length"),
     (66, "2048"), (68, "SHA-256"), (12, "fetch-crl"), (99, "check your certificate chain")],
)
def test_other_openssl_errors_refuse(pki, error, words):
    """Any other OpenSSL error refuses the chain, with a fix fitting the error."""
    refusal = rejected("TLS", pki, pki.issue_proxy(pki.user).chain, IF_VALID, [(0, error)])
    assert words in refusal.fix


# proxies from the real tools

def load(path):
    """The certificates of a PEM file, in file order."""
    with open(path, "rb") as f:
        return x509.load_pem_x509_certificates(f.read())


def tool_validate(pki, path, options=IF_VALID):
    """Validate a tool-made proxy file at the real time (the tools use the clock)."""
    store = TrustStore.load(pki.certificates_dir, pki.now)
    return validate_chain(load(path), [], store, options, datetime.now(UTC))


class TestGridTools:
    """Proxies made by grid-proxy-init and voms-proxy-fake validate, and openssl verify agrees."""

    pytestmark = gridtools.grid_tools

    def test_rfc_limited_voms_and_delegated(self, pki, tmp_path):
        """RFC, limited, VOMS and delegated (depth 2, 3) tool proxies validate and pass openssl verify."""
        rfc = gridtools.grid_proxy_init(pki, str(tmp_path / "rfc.pem"))
        limited = gridtools.grid_proxy_init(pki, str(tmp_path / "limited.pem"), limited=True)
        voms = gridtools.voms_proxy_fake(pki, str(tmp_path / "voms.pem"), vo="testvo", fqans=["/testvo"])
        depth2 = gridtools.grid_proxy_init(pki, str(tmp_path / "d2.pem"), cert=voms, key=voms)
        depth3 = gridtools.grid_proxy_init(pki, str(tmp_path / "d3.pem"), cert=depth2, key=depth2)
        expected = {
            rfc: (1, False), limited: (1, True), voms: (1, False), depth2: (2, False), depth3: (3, False)
        }
        for path, (depth, is_limited) in expected.items():
            facts = tool_validate(pki, path, REQUIRE)
            assert (facts.proxy_depth, facts.limited) == (depth, is_limited), path
            assert facts.eec_dn == USER_DN
            verified, output = gridtools.openssl_verify(pki, path)
            assert verified, output

    def test_voms_limited_and_delegated_from_limited(self, pki, tmp_path):
        """A limited VOMS proxy and a proxy delegated from it are limited."""
        voms = gridtools.voms_proxy_fake(
            pki, str(tmp_path / "vl.pem"), vo="testvo", fqans=["/testvo"], limited=True
        )
        delegated = gridtools.grid_proxy_init(pki, str(tmp_path / "vld.pem"), cert=voms, key=voms)
        assert tool_validate(pki, voms).limited
        assert tool_validate(pki, delegated).limited

    def test_refusals_agree_with_openssl(self, pki, tmp_path):
        """Expired, wrong-CA and revoked tool proxies fail both here and in openssl verify."""
        expired = gridtools.voms_proxy_fake(
            pki, str(tmp_path / "expired.pem"), vo="testvo", fqans=["/testvo"], pastproxy="48:00", hours=1,
        )
        rogue = pki.issue_ca(CA_DN, trusted=False)
        rogue_user = pki.issue_user(USER_DN, ca=rogue)
        rogue_user.write_pair(str(tmp_path / "rc.pem"), str(tmp_path / "rk.pem"))
        wrong_ca = gridtools.grid_proxy_init(
            pki, str(tmp_path / "wrong.pem"), cert=str(tmp_path / "rc.pem"), key=str(tmp_path / "rk.pem")
        )
        revoked_user = pki.issue_user("/DC=org/DC=example/OU=Users/CN=Revoked User")
        revoked_user.write_pair(str(tmp_path / "vc.pem"), str(tmp_path / "vk.pem"))
        revoked = gridtools.grid_proxy_init(
            pki, str(tmp_path / "revoked.pem"), cert=str(tmp_path / "vc.pem"), key=str(tmp_path / "vk.pem")
        )
        pki.revoke(revoked_user)
        for path, rule in ((expired, "C9"), (wrong_ca, "C2"), (revoked, "C11")):
            with pytest.raises(CertificateRejected) as info:
                tool_validate(pki, path)
            assert info.value.rule == rule
            verified, output = gridtools.openssl_verify(pki, path)
            assert not verified, output

    def test_legacy_tool_proxy(self, pki, tmp_path):
        """grid-proxy-init -old: refused by default, legacy when enabled; openssl reports error 79."""
        legacy = gridtools.grid_proxy_init(pki, str(tmp_path / "legacy.pem"), old=True)
        with pytest.raises(CertificateRejected) as info:
            tool_validate(pki, legacy)
        assert info.value.rule == "C8"
        assert tool_validate(pki, legacy, LEGACY).legacy
        verified, output = gridtools.openssl_verify(pki, legacy)
        assert not verified and "error 79" in output


# the end-entity certificate cache


def hostile_proxies_of_the_user(pki):
    """Proxies of the test user that fail one proxy rule each (C3 to C10, C13)."""
    return [
        pki.issue_proxy(pki.user, subject="/DC=org/DC=example/OU=Users/CN=Someone Else/CN=123"),
        pki.issue_proxy(pki.user, extra_cn=True),
        pki.issue_proxy(pki.user, omit_pci=True),
        pki.issue_proxy(pki.user, ca=True),
        pki.issue_proxy(pki.user, pci_critical=False),
        pki.issue_proxy(pki.user, policy_oid=INDEPENDENT),
        pki.issue_proxy(pki.user, draft=True),
        pki.issue_proxy(pki.user, legacy=True),
        pki.issue_proxy(pki.user, not_before=pki.now - timedelta(hours=48), lifetime=timedelta(hours=1)),
        pki.issue_proxy(pki.user, not_before=pki.now + timedelta(minutes=6)),
        pki.issue_proxy(pki.user, extensions=[(unknown(), True)]),
        pki.issue_proxy(pki.user, key_size=1024),
        pki.issue_proxy(pki.user, hash=hashes.SHA1),
        pki.issue_proxy(pki.issue_proxy(pki.user, pathlen=0)),
    ]


def test_known_eec_gives_the_same_facts_without_its_rules(pki, monkeypatch):
    """
    A new proxy of a user whose certificate an EecCache holds gets the same
    facts as from a fresh validation, and its CA path is not looked up again.
    """
    store = TrustStore.load(pki.certificates_dir, pki.now)
    eecs = EecCache()
    validate_chain(pki.issue_proxy(pki.user).chain, [], store, IF_VALID, pki.now, eecs)
    looked_up = []
    real = proxy_module.trust_path
    monkeypatch.setattr(proxy_module, "trust_path", lambda *a: looked_up.append(a) or real(*a))
    limited = pki.issue_proxy(pki.issue_proxy(pki.user, limited=True))
    for chain in (pki.issue_proxy(pki.user).chain, limited.chain):
        fresh = validate_chain(chain, [], store, IF_VALID, pki.now)
        assert len(looked_up) == 1
        known = validate_chain(chain, [], store, IF_VALID, pki.now, eecs)
        assert len(looked_up) == 1
        assert known == fresh
        looked_up.clear()


def test_known_eec_is_read_once(pki):
    """The user's certificate, parsed anew on every connection, is replaced
    by the one the EecCache read: its subject and extensions are not parsed
    again."""
    store = TrustStore.load(pki.certificates_dir, pki.now)
    eecs = EecCache()
    first = validate_chain(pki.issue_proxy(pki.user).chain, [], store, IF_VALID, pki.now, eecs)
    chain = [x509.load_der_x509_certificate(c.public_bytes(serialization.Encoding.DER))
             for c in pki.issue_proxy(pki.user).chain]
    facts = validate_chain(chain, [], store, IF_VALID, pki.now, eecs)
    assert facts.eec is first.eec and facts.eec is not chain[1]


def test_known_eec_refusals_are_the_fresh_ones(pki):
    """Every proxy rule is still applied to a proxy of a cached user, with the same refusal."""
    store = TrustStore.load(pki.certificates_dir, pki.now)
    eecs = EecCache()
    validate_chain(pki.issue_proxy(pki.user).chain, [], store, IF_VALID, pki.now, eecs)
    refusals = set()
    cases = [(p.chain, ()) for p in hostile_proxies_of_the_user(pki)]
    cases.append((pki.issue_proxy(pki.user).chain, [(1, 23)]))  # OpenSSL: the EEC is revoked
    # the cached certificate behind another end-entity certificate, and before a proxy
    proxy = pki.issue_proxy(pki.user).chain
    between = pki.issue_user("/DC=org/DC=example/OU=Users/CN=Between").certificate
    cases.append(([proxy[0], between, *proxy[1:]], ()))
    cases.append(([proxy[1], proxy[0]], ()))
    for chain, tls_errors in cases:
        with pytest.raises(CertificateRejected) as fresh:
            validate_chain(chain, list(tls_errors), store, IF_VALID, pki.now)
        with pytest.raises(CertificateRejected) as known:
            validate_chain(chain, list(tls_errors), store, IF_VALID, pki.now, eecs)
        assert (known.value.rule, known.value.reason) == (fresh.value.rule, fresh.value.reason)
        refusals.add(fresh.value.rule)
    assert refusals >= {"C3", "C4", "C5", "C6", "C8", "C9", "C10", "C13", "TLS"}


def test_known_eec_keeps_its_notes(pki):
    """A missing CRL tolerated for a user is noted again for each new proxy of that user."""
    pki.write_crl(missing=True)
    store = TrustStore.load(pki.certificates_dir, pki.now)
    eecs = EecCache()
    for _ in range(2):
        facts = validate_chain(pki.issue_proxy(pki.user).chain, [], store, IF_VALID, pki.now, eecs)
        assert any("no CRL" in note for note in facts.notes)


def test_known_eec_only_within_its_window(pki):
    """
    A cached certificate stands only while its CA's CRL is current: after its
    nextUpdate the certificate is checked again, and refused for the
    expired CRL.
    """
    store = TrustStore.load(pki.certificates_dir, pki.now)
    eecs = EecCache()
    facts = validate_chain(pki.issue_proxy(pki.user).chain, [], store, IF_VALID, pki.now, eecs)
    user = x509.load_der_x509_certificate(pki.user.certificate.public_bytes(serialization.Encoding.DER))
    assert eecs.get(user, pki.now) is not None
    later = store.authorities[0].crl.next_update_utc + timedelta(seconds=1)
    assert facts.valid_until < later
    assert eecs.get(user, later) is None
    proxy = pki.issue_proxy(pki.user, not_before=later - timedelta(minutes=1))
    with pytest.raises(CertificateRejected) as refusal:
        validate_chain(proxy.chain, [], store, IF_VALID, later, eecs)
    assert (refusal.value.rule, "has expired" in refusal.value.reason) == ("C11", True)

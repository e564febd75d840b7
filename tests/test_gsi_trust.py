# -*- test-case-name: tests.test_gsi_trust -*-
"""
Tests for L{occid.gsi.trust}: loading an IGTF trust dir, CA paths, CRL
signatures, namespaces and signing_policy files, and the change fingerprint.
"""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives import serialization

from occid.gsi.capolicy import parse_namespaces, parse_signing_policy
from occid.gsi.trust import TrustStore, fingerprint
from tests.pki import CA_DN, PKI, namespaces_text, signing_policy_text, subject_hash, with_extension_twice

USER = "/DC=org/DC=example/OU=Users/CN=Test User"


@pytest.fixture
def pki(tmp_path):
    return PKI(tmp_path)


def test_load_indexes_ca_and_crl(pki):
    """The CA, its valid CRL and both policy files are found; nothing is reported."""
    store = TrustStore.load(pki.certificates_dir, pki.now)
    assert store.problems == ()
    [authority] = store.issuers_of(pki.user.certificate)
    assert authority.dn == CA_DN
    assert authority.stem == subject_hash(pki.ca.certificate)
    assert authority.crl is not None and authority.crl_signature_valid
    assert store.path(authority) == (authority,)
    assert authority.policy_verdict(USER, require=True) is None


def test_old_hash_links_do_not_duplicate(pki):
    """IGTF's old-hash symlinks to the same CA yield one authority."""
    stem = subject_hash(pki.ca.certificate)
    for suffix in ("0", "r0"):
        os.symlink(f"{stem}.{suffix}", os.path.join(pki.certificates_dir, f"0badcafe.{suffix}"))
    store = TrustStore.load(pki.certificates_dir, pki.now)
    assert len(store.authorities) == 1


def test_unknown_issuer(pki):
    """A certificate from a CA outside the dir has no issuer candidates."""
    rogue = pki.issue_ca("/DC=org/DC=example/CN=Rogue Grid CA", trusted=False)
    user = pki.issue_user(USER, ca=rogue)
    store = TrustStore.load(pki.certificates_dir, pki.now)
    assert store.issuers_of(user.certificate) == []


def test_sub_ca_path(pki):
    """A sub-CA's path runs to the root, each link's signature checked at load."""
    sub = pki.issue_ca("/DC=org/DC=example/CN=Sub CA", parent=pki.ca)
    store = TrustStore.load(pki.certificates_dir, pki.now)
    [authority] = store.issuers_of(pki.issue_user(USER, ca=sub).certificate)
    assert [a.dn for a in store.path(authority)] == ["/DC=org/DC=example/CN=Sub CA", CA_DN]


def test_sub_ca_without_parent_is_reported(pki):
    """A sub-CA whose parent is not in the dir has no path, and the load says why."""
    outside = pki.issue_ca("/DC=org/DC=other/CN=Outside Root", trusted=False)
    sub = pki.issue_ca("/DC=org/DC=example/CN=Orphan CA", parent=outside)
    store = TrustStore.load(pki.certificates_dir, pki.now)
    [authority] = store.issuers_of(pki.issue_user(USER, ca=sub).certificate)
    assert "no CA in the trust dir signed" in store.path(authority).reason
    assert any("Orphan CA" in p for p in store.problems)


def test_crl_with_bad_signature(pki):
    """A CRL not signed by the CA's key is kept but flagged and reported."""
    pki.write_crl(bad_signature=True)
    store = TrustStore.load(pki.certificates_dir, pki.now)
    [authority] = store.authorities
    assert authority.crl is not None and not authority.crl_signature_valid
    assert any("not signed by its key" in p for p in store.problems)


def test_expired_crl_and_missing_crl(pki):
    """An expired CRL is reported at load; a missing one leaves crl None."""
    pki.write_crl(expired=True)
    store = TrustStore.load(pki.certificates_dir, pki.now)
    assert any("expired" in p for p in store.problems)
    pki.write_crl(missing=True)
    assert TrustStore.load(pki.certificates_dir, pki.now).authorities[0].crl is None


def test_unreadable_files_are_reported(pki):
    """Garbage in a CA or CRL file is reported and skipped, not raised."""
    with open(os.path.join(pki.certificates_dir, "deadbeef.0"), "w") as f:
        f.write("not a certificate")
    with open(os.path.join(pki.certificates_dir, "deadbeef.r0"), "w") as f:
        f.write("not a CRL")
    store = TrustStore.load(pki.certificates_dir, pki.now)
    assert len(store.authorities) == 1
    assert sum("unreadable" in p for p in store.problems) == 2


def test_unreadable_ca_is_reported(pki):
    """A CA certificate whose extensions cannot be read is reported and
    left out of the store, which loads the other CAs."""
    twice = with_extension_twice(pki.ca.certificate, pki.ca.private_key, "2.5.29.19")
    stem = subject_hash(pki.ca.certificate)
    with open(os.path.join(pki.certificates_dir, f"{stem}.1"), "wb") as f:
        f.write(twice.public_bytes(serialization.Encoding.PEM))
    store = TrustStore.load(pki.certificates_dir, pki.now)
    assert [a.certificate for a in store.authorities] == [pki.ca.certificate]
    assert store.problems == (
        f"{stem}: unreadable CA certificate (the extension 2.5.29.19 appears twice); ignored",
    )


def test_no_policy_files(pki):
    """Without policy files a CA may sign anyone, unless policies are required."""
    pki.write_namespaces(pki.ca, None)
    pki.write_signing_policy(pki.ca, None)
    [authority] = TrustStore.load(pki.certificates_dir, pki.now).authorities
    assert authority.policy_verdict("/O=Elsewhere/CN=x", require=False) is None
    assert "neither" in authority.policy_verdict(USER, require=True)


def test_namespaces_take_precedence(pki):
    """With both files, .namespaces decides (canl-java EUGRIDPMA_GLOBUS order)."""
    pki.write_namespaces(pki.ca, namespaces_text(pki.ca.certificate, "/DC=org/DC=example/OU=Users/.*"))
    pki.write_signing_policy(pki.ca, signing_policy_text(pki.ca.certificate, "/DC=org/DC=example/OU=Hosts/*"))
    [authority] = TrustStore.load(pki.certificates_dir, pki.now).authorities
    assert authority.policy_verdict(USER, require=False) is None
    assert authority.policy_verdict("/DC=org/DC=example/OU=Hosts/CN=h", require=False) is not None


def test_namespaces_rules():
    """PERMIT must match the whole DN, DENY wins, other issuers' rules do not apply, SELF is the CA."""
    policy = parse_namespaces(
        "# comment\n"
        'TO Issuer "/DC=org/CN=CA" \\\n  PERMIT Subject "/DC=org/.*"\n'
        'TO Issuer "/DC=org/CN=CA" DENY Subject "/DC=org/CN=Evil.*"\n'
        'to issuer "/DC=org/CN=Other" permit subject ".*"\n'
        'TO Issuer SELF PERMIT Subject "/O=self/.*"\n'
    ).for_ca("/DC=org/CN=CA")
    assert policy.error is None
    assert policy.verdict("/DC=org/CN=CA", "/DC=org/CN=Jane") is None
    assert policy.verdict("/DC=org/CN=CA", "/DC=org/CN=Evil Twin") is not None
    assert policy.verdict("/DC=org/CN=CA", "/DC=com/CN=Jane") is not None
    assert policy.verdict("/DC=org/CN=CA", "/O=self/CN=x") is None
    assert policy.verdict("/DC=org/CN=CA", "/X/DC=org/CN=Jane") is not None  # anchored


def test_malformed_namespaces_permit_nothing():
    """An unparseable namespaces file fails closed with its error."""
    policy = parse_namespaces('TO Issuer "/DC=org/CN=CA" ALLOW Subject ".*"')
    assert policy.error
    assert "unusable" in policy.verdict("/DC=org/CN=CA", "/DC=org/CN=x")


def test_signing_policy_rules():
    """Globs (* and ?) match the whole DN; only CA:sign blocks grant; several globs per block."""
    policy = parse_signing_policy(
        "# comment\n"
        "access_id_CA X509 '/DC=org/CN=CA'\n"
        "pos_rights globus CA:sign\n"
        "cond_subjects globus '\"/DC=org/OU=Users/*\" \"/DC=org/OU=Host?/*\"'\n"
        "access_id_CA X509 '/DC=org/CN=Other'\n"
        "pos_rights globus CA:nothing\n"
        "cond_subjects globus '\"*\"'\n"
    )
    assert policy.error is None
    assert policy.verdict("/DC=org/CN=CA", "/DC=org/OU=Users/CN=x") is None
    assert policy.verdict("/DC=org/CN=CA", "/DC=org/OU=Hosts/CN=x") is None
    assert policy.verdict("/DC=org/CN=CA", "/DC=com/OU=Users/CN=x") is not None
    assert policy.verdict("/DC=org/CN=Other", "/anything") is not None


def test_malformed_signing_policy_permits_nothing():
    """A signing_policy with an unknown keyword fails closed."""
    policy = parse_signing_policy("access_id_CA X509 '/CN=CA'\nbogus globus x\n")
    assert policy.error
    assert policy.verdict("/CN=CA", "/CN=x") is not None


def test_fingerprint_changes_on_rewrite(pki):
    """The fingerprint is stable, and changes when fetch-crl rewrites a CRL or a file appears."""
    first = fingerprint(pki.certificates_dir)
    assert fingerprint(pki.certificates_dir) == first
    path = pki.write_crl()
    os.utime(path, ns=(1, 1))
    second = fingerprint(pki.certificates_dir)
    assert second != first
    pki.issue_ca("/DC=org/DC=example/CN=Another CA")
    assert fingerprint(pki.certificates_dir) != second

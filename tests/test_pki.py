# -*- test-case-name: tests.test_pki -*-
"""
Tests for the credential factory, L{occid.demo.pki} and L{occid.demo.voms},
and for the tests' PKI built on it, L{tests.pki}: what they write and the
shapes they issue, so that the demo and the other suites can rely on them.
"""

from __future__ import annotations

import os
import stat
from datetime import timedelta
from pathlib import Path

import pytest
from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from occid.demo import pki as factory
from occid.demo import voms as vomsfactory
from occid.gsi import vomsasn1 as voms
from occid.gsi.proxycert import PCI
from tests.pki import CA_DN, PKI, USER_DN, name, pooled_key, subject_hash


def test_layout(tmp_path):
    """The PKI writes the IGTF trust dir, an empty vomsdir and the PEM pairs."""
    pki = PKI(tmp_path)
    stem = subject_hash(pki.ca.certificate)
    assert stem == "46cb6a7e"  # OpenSSL's hash of the reference CA DN
    assert sorted(os.listdir(pki.certificates_dir)) == [
        f"{stem}.0", f"{stem}.namespaces", f"{stem}.r0", f"{stem}.signing_policy",
    ]
    assert os.listdir(pki.vomsdir) == []
    for label in ("host", "user", "voms"):
        assert os.path.exists(tmp_path / f"{label}cert.pem")
        assert stat.S_IMODE(os.stat(tmp_path / f"{label}key.pem").st_mode) == 0o600
    assert pki.user.certificate.subject == name(USER_DN)
    assert pki.ca.certificate.subject == name(CA_DN)


def test_host_certificate_names_localhost(tmp_path):
    """The host certificate carries DNS:localhost and IP:127.0.0.1."""
    pki = PKI(tmp_path)
    san = pki.host.certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(a) for a in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]


def test_proxy_file_layout(tmp_path):
    """A proxy file holds the proxy, its key, then the parents up to the EEC, mode 0600."""
    pki = PKI(tmp_path)
    proxy = pki.issue_proxy(pki.issue_proxy(pki.user))
    path = proxy.write(str(tmp_path / "proxy.pem"))
    data = Path(path).read_bytes()
    certificates = x509.load_pem_x509_certificates(data)
    assert certificates == proxy.chain
    assert len(certificates) == 3 and certificates[-1] == pki.user.certificate
    assert data.index(b"PRIVATE KEY") < data.index(certificates[1].public_bytes(serialization.Encoding.PEM))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_proxy_shape(tmp_path):
    """A default proxy extends its parent's subject by one CN and carries a critical PCI."""
    pki = PKI(tmp_path)
    proxy = pki.issue_proxy(pki.user).certificate
    assert list(proxy.subject.rdns)[:-1] == list(pki.user.certificate.subject.rdns)
    assert proxy.issuer == pki.user.certificate.subject
    assert proxy.extensions.get_extension_for_oid(x509.ObjectIdentifier(PCI)).critical
    proxy.verify_directly_issued_by(pki.user.certificate)


def test_weak_digests(tmp_path):
    """SHA-1 and MD5 signatures, refused by the builder, are produced and verifiable."""
    pki = PKI(tmp_path)
    for algorithm in (hashes.SHA1, hashes.MD5):
        proxy = pki.issue_proxy(pki.user, hash=algorithm).certificate
        assert isinstance(proxy.signature_hash_algorithm, algorithm)
        assert proxy.tbs_certificate_bytes  # re-parsed cleanly


def test_revoke_and_crl_variants(tmp_path):
    """Revoking lists the serial; the CRL can be expired, mis-signed or missing."""
    pki = PKI(tmp_path)
    pki.revoke(pki.user)
    path = pki.write_crl()
    crl = x509.load_pem_x509_crl(Path(path).read_bytes())
    assert crl.get_revoked_certificate_by_serial_number(pki.user.certificate.serial_number)
    assert crl.is_signature_valid(pki.ca.private_key.public_key())
    crl = x509.load_pem_x509_crl(Path(pki.write_crl(bad_signature=True)).read_bytes())
    assert not crl.is_signature_valid(pki.ca.private_key.public_key())
    crl = x509.load_pem_x509_crl(Path(pki.write_crl(expired=True)).read_bytes())
    assert crl.next_update_utc < pki.now
    pki.write_crl(missing=True)
    assert not os.path.exists(path)


def test_ca_keys_are_distinct(tmp_path):
    """A rogue CA with the trusted CA's DN never gets the trusted CA's key."""
    pki = PKI(tmp_path)
    rogue = pki.issue_ca(CA_DN, trusted=False)
    assert rogue.private_key is not pki.ca.private_key
    assert len(os.listdir(pki.certificates_dir)) == 4


def test_key_pool_is_shared():
    """The pool hands out the same key for the same slot, so keygen is paid once."""
    assert pooled_key(2048, 3) is pooled_key(2048, 3)
    assert pooled_key(2048, 3) is not pooled_key(2048, 4)


def test_lsc(tmp_path):
    """lsc() names the VOMS signer and its CA, one line each."""
    pki = PKI(tmp_path)
    path = pki.lsc("testvo", "voms.example.org")
    assert path == os.path.join(pki.vomsdir, "testvo", "voms.example.org.lsc")
    assert Path(path).read_text().splitlines() == [
        "/DC=org/DC=example/OU=Services/CN=voms.example.org",
        "/DC=org/DC=example/CN=Test Grid CA",
    ]


def test_factory_proxy_serial_is_its_last_cn(tmp_path):
    """The factory's proxy carries its serial number as its last CN, as grid-proxy-init does."""
    pki = PKI(tmp_path)
    proxy = factory.issue_proxy(pki.user, pooled_key(2048, 0), not_before=pki.now,
                                not_after=pki.now + timedelta(hours=1)).certificate
    assert proxy.subject == factory.extend(pki.user.certificate.subject, factory.cn(str(proxy.serial_number)))
    assert proxy.serial_number.bit_length() == 31
    assert proxy.not_valid_after_utc == pki.now.replace(microsecond=0) + timedelta(hours=1)


def test_factory_ac_names_holder_by_its_issuer(tmp_path):
    """An AC from the factory names its holder in the RFC 5755 form (issuer and serial)."""
    pki = PKI(tmp_path)
    ac = vomsfactory.attribute_certificate(pki.voms, pki.user.certificate, vo="testvo",
                                           host="voms.example.org", fqans=["/testvo"],
                                           not_before=pki.now, not_after=pki.now + timedelta(hours=1))
    holder = ac["ac_info"]["holder"]["base_certificate_id"]
    assert holder["issuer"][0].chosen == vomsfactory.directory_name(pki.user.certificate.issuer).chosen
    assert holder["serial"].native == pki.user.certificate.serial_number
    extension, critical = vomsfactory.ac_extension([ac])
    assert not critical and extension.oid.dotted_string == voms.AC_EXTENSION
    assert isinstance(voms.ACLists.load(extension.value)[0][0], cms.AttributeCertificateV2)


def test_credential_load_refuses_other_keys(tmp_path):
    """Credential.load reads an RSA pair and refuses any other kind of key."""
    pki = PKI(tmp_path)
    loaded = factory.Credential.load(str(tmp_path / "usercert.pem"), str(tmp_path / "userkey.pem"))
    assert loaded.certificate == pki.user.certificate and loaded.chain == [pki.user.certificate]
    other = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    (tmp_path / "other.pem").write_bytes(other)
    with pytest.raises(ValueError, match="not an RSA key"):
        factory.Credential.load(str(tmp_path / "usercert.pem"), str(tmp_path / "other.pem"))


def test_trust_dir_remove(tmp_path):
    """TrustDir.remove deletes every file of a CA and leaves the others."""
    pki = PKI(tmp_path)
    sub = pki.issue_ca("/DC=org/DC=example/CN=Sub CA", parent=pki.ca)
    pki.trust.remove(sub.certificate)
    stem = subject_hash(pki.ca.certificate)
    assert sorted(os.listdir(pki.certificates_dir)) == [
        f"{stem}.0", f"{stem}.namespaces", f"{stem}.r0", f"{stem}.signing_policy",
    ]

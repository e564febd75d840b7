# -*- test-case-name: tests.test_demo -*-
"""
The demo's grid credentials, made with the credential factory and kept in
the demo directory: a CA with its CRL and policy files, a host certificate
for C{localhost}, a user, a VOMS signer with its LSC file, a 12-hour VOMS
proxy of the user and an SSH key pair.

L{ensure_credentials} makes what is missing or close to its end and reuses
the rest, so that a restarted demo serves the files its user already has.
"""

from __future__ import annotations

import ipaddress
import os
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID

from occid.atomicfile import write_file
from occid.demo import pki
from occid.demo.pki import Credential, TrustDir
from occid.demo.voms import ac_extension, attribute_certificate, write_lsc

#: The demo's one VO, and the host named in its ACs' policyAuthority.
VO = "demo.occid.example"
VOMS_HOST = "localhost"

PROXY_LIFETIME = timedelta(hours=12)
#: A proxy or certificate this close to its end is made again at start.
PROXY_RENEWAL = timedelta(hours=1)
CERTIFICATE_RENEWAL = timedelta(days=1)
CA_LIFETIME = timedelta(days=10 * 365)
CERTIFICATE_LIFETIME = timedelta(days=5 * 365)
CRL_LIFETIME = timedelta(days=30)
#: Certificates start this far in the past, for clocks a little behind.
BACKDATE = timedelta(minutes=5)

#: The subjects the demo's CA may sign, and the demo's names under it.
NAMESPACE = "/DC=example/DC=occid/"
CA_NAME = pki.name(NAMESPACE + "CN=occid demo CA")
HOST_NAME = pki.name(NAMESPACE + "OU=Hosts/CN=localhost")
USER_NAME = pki.name(NAMESPACE + "OU=Users/CN=Demo User")
VOMS_NAME = pki.name(NAMESPACE + "OU=Services/CN=occid demo VOMS")


class DemoFiles:
    """Where the demo keeps everything: absolute paths under one directory."""

    def __init__(self, directory: str):
        self.directory = os.path.abspath(directory)

        def join(*parts: str) -> str:
            return os.path.join(self.directory, *parts)

        self.ca = join("ca.pem")
        self.ca_key = join("ca-key.pem")
        self.certificates = join("certificates")
        self.host_cert, self.host_key = join("hostcert.pem"), join("hostkey.pem")
        self.user_cert, self.user_key = join("usercert.pem"), join("userkey.pem")
        self.voms_cert, self.voms_key = join("vomscert.pem"), join("vomskey.pem")
        self.vomsdir = join("vomsdir")
        self.lsc = join("vomsdir", VO, f"{VOMS_HOST}.lsc")
        self.proxy = join("proxy.pem")
        #: An access token of the demo's OIDC issuer, rewritten at every start.
        self.token = join("token")
        self.ssh_key, self.ssh_public_key = join("id_ed25519"), join("id_ed25519.pub")
        self.config = join("occid.toml")
        self.aws_config = join("aws", "config")
        self.aws_credentials = join("aws", "credentials")
        self.trust = TrustDir(self.certificates)


def _read_certificates(path: str) -> list[x509.Certificate]:
    """The PEM certificates in C{path}; none if it is missing or unreadable."""
    try:
        with open(path, "rb") as f:
            return x509.load_pem_x509_certificates(f.read())
    except (OSError, ValueError):
        return []


def make_pki(files: DemoFiles, now: datetime) -> None:
    """
    A new CA (in the trust dir with its CRL and policy files), host, user and
    VOMS credentials and the LSC file; the files of a previous CA go.
    """
    for old in _read_certificates(files.ca)[:1]:
        files.trust.remove(old)
    if os.path.exists(files.proxy):
        os.unlink(files.proxy)

    start = now - BACKDATE
    ca = pki.issue_ca(CA_NAME, pki.new_key(), not_before=start, not_after=now + CA_LIFETIME)
    ca.write_pair(files.ca, files.ca_key)
    files.trust.add(ca.certificate, NAMESPACE)
    write_crl(files, ca, now)

    def issue(subject: x509.Name, *usages: x509.ObjectIdentifier,
              extensions: list[pki.Extension] | None = None) -> Credential:
        return pki.issue_end_entity(subject, pki.new_key(), ca, not_before=start,
                                    not_after=now + CERTIFICATE_LIFETIME, usages=usages,
                                    extensions=extensions or [])

    localhost = x509.SubjectAlternativeName([
        x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    ])
    issue(HOST_NAME, ExtendedKeyUsageOID.SERVER_AUTH, extensions=[(localhost, False)]).write_pair(
        files.host_cert, files.host_key)
    issue(USER_NAME, ExtendedKeyUsageOID.CLIENT_AUTH).write_pair(files.user_cert, files.user_key)
    voms = issue(VOMS_NAME, ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH)
    voms.write_pair(files.voms_cert, files.voms_key)
    write_lsc(files.vomsdir, VO, VOMS_HOST, voms.certificate, ca.certificate)


def write_crl(files: DemoFiles, ca: Credential, now: datetime) -> None:
    """An empty CRL of C{ca}, current for L{CRL_LIFETIME}, numbered by C{now}."""
    files.trust.write_crl(ca.certificate, pki.crl(ca, last_update=now - BACKDATE,
                                                  next_update=now + CRL_LIFETIME,
                                                  number=int(now.timestamp())))


def _pki_current(files: DemoFiles, now: datetime) -> bool:
    """Whether every certificate and key is there and far from its end, the CA in the trust dir."""
    for certificate_path, key_path in ((files.ca, files.ca_key), (files.host_cert, files.host_key),
                                       (files.user_cert, files.user_key),
                                       (files.voms_cert, files.voms_key)):
        found = _read_certificates(certificate_path)
        if not found or not os.path.exists(key_path):
            return False
        if found[0].not_valid_after_utc < now + CERTIFICATE_RENEWAL:
            return False
    ca = _read_certificates(files.ca)[0]
    return os.path.exists(files.trust.path(ca, ".0")) and os.path.exists(files.lsc)


def _crl_current(files: DemoFiles, ca: x509.Certificate, now: datetime) -> bool:
    try:
        with open(files.trust.path(ca, ".r0"), "rb") as f:
            revocations = x509.load_pem_x509_crl(f.read())
    except (OSError, ValueError):
        return False
    return revocations.next_update_utc is not None and revocations.next_update_utc > now + CERTIFICATE_RENEWAL


def make_proxy(files: DemoFiles, now: datetime) -> None:
    """
    A 12-hour RFC 3820 proxy of the user carrying a VOMS AC for C{/<VO>},
    written as the proxy file: proxy certificate, its key, the user
    certificate (mode 0600).
    """
    user = Credential.load(files.user_cert, files.user_key)
    signer = Credential.load(files.voms_cert, files.voms_key)
    not_before, not_after = now - BACKDATE, now + PROXY_LIFETIME
    ac = attribute_certificate(signer, user.certificate, vo=VO, host=VOMS_HOST, fqans=[f"/{VO}"],
                               not_before=not_before, not_after=not_after)
    proxy = pki.issue_proxy(user, pki.new_key(), not_before=not_before, not_after=not_after,
                            extensions=[ac_extension([ac])])
    proxy.write(files.proxy)


def _proxy_current(files: DemoFiles, now: datetime) -> bool:
    found = _read_certificates(files.proxy)
    users = _read_certificates(files.user_cert)
    return (len(found) == 2 and users[:1] == found[1:]
            and found[0].not_valid_after_utc > now + PROXY_RENEWAL)


def make_ssh_key(files: DemoFiles) -> None:
    """An ed25519 SSH key pair for the user (OpenSSH formats)."""
    key = ed25519.Ed25519PrivateKey.generate()
    write_file(files.ssh_key, key.private_bytes(serialization.Encoding.PEM,
                                                serialization.PrivateFormat.OpenSSH,
                                                serialization.NoEncryption()), 0o600)
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                           serialization.PublicFormat.OpenSSH)
    write_file(files.ssh_public_key, public + b" occid-demo\n")


def ensure_credentials(files: DemoFiles, now: datetime) -> None:
    """
    Make what is missing or close to its end, and reuse the rest: the PKI,
    the CRL (re-signed a day before it expires), the proxy (made again an
    hour before it expires) and the SSH key.
    """
    os.makedirs(files.directory, mode=0o700, exist_ok=True)
    if not _pki_current(files, now):
        make_pki(files, now)
    ca = Credential.load(files.ca, files.ca_key)
    if not _crl_current(files, ca.certificate, now):
        write_crl(files, ca, now)
    if not _proxy_current(files, now):
        make_proxy(files, now)
    if not (os.path.exists(files.ssh_key) and os.path.exists(files.ssh_public_key)):
        make_ssh_key(files)

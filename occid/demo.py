# -*- test-case-name: tests.test_demo -*-
"""
The embedded default, C{twistd -n occid --demo}: occid on localhost with
everything it needs made on the spot.

L{prepare} makes, or reuses, a throwaway grid PKI in the demo directory (a
CA with its CRL and policy files, a host certificate for C{localhost}, a
user, a VOMS signer with its LSC file), a 12-hour VOMS proxy for the user
and an SSH key pair; it points the AWS SDK at an EC2 emulator and writes the
C{occid.toml} that the ordinary C{makeService} then reads.  Nothing in the
demo path bypasses occid: the same TLS, proxy, VOMS, policy and EC2 code
serves it.  L{EmulatorService} runs moto's EC2 in this process on
127.0.0.1; L{AnnounceService} prints commands to try once occid listens.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import secrets
import shlex
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import boto3
from asn1crypto import cms, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from OpenSSL import crypto
from twisted.application.service import Service

from occid.gsi import proxycert as gsiproxy
from occid.gsi import vomsasn1 as voms
from occid.gsi.names import slash_dn
from occid.occi import infrastructure as infra

#: The demo's one VO, and the host named in its ACs' policyAuthority.
VO = "demo.occid.example"
VOMS_HOST = "localhost"
DEFAULT_DIRECTORY = "occid-demo"
DEFAULT_PORT = 11443
REGION = "eu-west-1"
#: The AMIs the emulator offers (moto's format, read when moto is imported).
AMIS_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "demo_amis.json")
INSTANCE_TYPES = ("t3.micro", "t3.small", "t3.medium")

PROXY_LIFETIME = timedelta(hours=12)
#: A proxy or certificate this close to its end is made again at start.
PROXY_RENEWAL = timedelta(hours=1)
CERTIFICATE_RENEWAL = timedelta(days=1)
CA_LIFETIME = timedelta(days=10 * 365)
CERTIFICATE_LIFETIME = timedelta(days=5 * 365)
CRL_LIFETIME = timedelta(days=30)
#: Certificates start this far in the past, for clocks a little behind.
BACKDATE = timedelta(minutes=5)


def _name(*rdns: tuple) -> x509.Name:
    base = ((NameOID.DOMAIN_COMPONENT, "example"), (NameOID.DOMAIN_COMPONENT, "occid"))
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in base + rdns])


CA_NAME = _name((NameOID.COMMON_NAME, "occid demo CA"))
HOST_NAME = _name((NameOID.ORGANIZATIONAL_UNIT_NAME, "Hosts"), (NameOID.COMMON_NAME, "localhost"))
USER_NAME = _name((NameOID.ORGANIZATIONAL_UNIT_NAME, "Users"), (NameOID.COMMON_NAME, "Demo User"))
VOMS_NAME = _name((NameOID.ORGANIZATIONAL_UNIT_NAME, "Services"),
                  (NameOID.COMMON_NAME, "occid demo VOMS"))


class DemoFiles:
    """Where the demo keeps everything: absolute paths under one directory."""

    def __init__(self, directory: str):
        self.directory = os.path.abspath(directory)
        join = lambda *parts: os.path.join(self.directory, *parts)
        self.ca = join("ca.pem")
        self.ca_key = join("ca-key.pem")
        self.certificates = join("certificates")
        self.host_cert, self.host_key = join("hostcert.pem"), join("hostkey.pem")
        self.user_cert, self.user_key = join("usercert.pem"), join("userkey.pem")
        self.voms_cert, self.voms_key = join("vomscert.pem"), join("vomskey.pem")
        self.vomsdir = join("vomsdir")
        self.lsc = join("vomsdir", VO, f"{VOMS_HOST}.lsc")
        self.proxy = join("proxy.pem")
        self.ssh_key, self.ssh_public_key = join("id_ed25519"), join("id_ed25519.pub")
        self.config = join("occid.toml")
        self.aws_config = join("aws", "config")
        self.aws_credentials = join("aws", "credentials")

    def trust_stem(self, ca: x509.Certificate) -> str:
        """The trust-dir path of C{ca} without suffix: C{certificates/<hash>}."""
        return os.path.join(self.certificates, subject_hash(ca))


def subject_hash(certificate: x509.Certificate) -> str:
    """OpenSSL's subject hash of C{certificate}, which names it in a trust dir."""
    return "%08x" % crypto.X509.from_cryptography(certificate).subject_name_hash()


# -- files -------------------------------------------------------------------


def _write(path: str, data: bytes, mode: int = 0o644) -> None:
    """Replace C{path} atomically with C{data}."""
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    temporary = f"{path}.{os.getpid()}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(temporary, path)


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def _key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())


def _read_certificates(path: str) -> list[x509.Certificate]:
    """The PEM certificates in C{path}; none if it is missing or unreadable."""
    try:
        with open(path, "rb") as f:
            return x509.load_pem_x509_certificates(f.read())
    except (OSError, ValueError):
        return []


def _read_pair(certificate_path: str, key_path: str) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    with open(key_path, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    return _read_certificates(certificate_path)[0], key


# -- the PKI -------------------------------------------------------------------


def _sign(subject: x509.Name, public_key, issuer: x509.Name, signer, not_before: datetime,
          not_after: datetime, extensions: list[tuple], serial: int | None = None) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(serial or secrets.randbits(63) | 1 << 62)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(signer, hashes.SHA256())


def _key_usage(*, signature: bool = False, encipherment: bool = False, ca: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=signature, content_commitment=False, key_encipherment=encipherment,
        data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
        encipher_only=False, decipher_only=False,
    )


def _rsa() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _issue_end_entity(ca: x509.Certificate, ca_key, subject: x509.Name, now: datetime,
                      usages: list, extra: list[tuple] = ()) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    key = _rsa()
    certificate = _sign(subject, key.public_key(), ca.subject, ca_key, now - BACKDATE,
                        now + CERTIFICATE_LIFETIME, [
                            (x509.BasicConstraints(ca=False, path_length=None), True),
                            (_key_usage(signature=True, encipherment=True), True),
                            (x509.ExtendedKeyUsage(usages), False),
                            (x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False),
                            (x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False),
                            *extra,
                        ])
    return certificate, key


def _namespaces(ca: x509.Certificate) -> str:
    return (f'TO Issuer "{slash_dn(ca.subject)}" \\\n'
            f'  PERMIT Subject "{slash_dn(_name())}/.*"\n')


def _signing_policy(ca: x509.Certificate) -> str:
    return (f"access_id_CA   X509    '{slash_dn(ca.subject)}'\n"
            "pos_rights     globus  CA:sign\n"
            f"cond_subjects  globus  '\"{slash_dn(_name())}/*\"'\n")


def make_pki(files: DemoFiles, now: datetime) -> None:
    """
    A new CA (in the trust dir with its CRL and policy files), host, user and
    VOMS credentials and the LSC file; the files of a previous CA go.
    """
    for old in _read_certificates(files.ca)[:1]:
        stem = files.trust_stem(old)
        for suffix in (".0", ".r0", ".signing_policy", ".namespaces"):
            if os.path.exists(stem + suffix):
                os.unlink(stem + suffix)
    if os.path.exists(files.proxy):
        os.unlink(files.proxy)

    ca_key = _rsa()
    ca = _sign(CA_NAME, ca_key.public_key(), CA_NAME, ca_key, now - BACKDATE, now + CA_LIFETIME, [
        (x509.BasicConstraints(ca=True, path_length=None), True),
        (_key_usage(ca=True), True),
        (x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False),
    ])
    _write(files.ca_key, _key_pem(ca_key), 0o600)
    _write(files.ca, _pem(ca))
    stem = files.trust_stem(ca)
    _write(stem + ".0", _pem(ca))
    _write(stem + ".namespaces", _namespaces(ca).encode())
    _write(stem + ".signing_policy", _signing_policy(ca).encode())
    write_crl(files, ca, ca_key, now)

    localhost = x509.SubjectAlternativeName([
        x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    ])
    issued = {
        (files.host_cert, files.host_key): _issue_end_entity(
            ca, ca_key, HOST_NAME, now, [ExtendedKeyUsageOID.SERVER_AUTH], [(localhost, False)]),
        (files.user_cert, files.user_key): _issue_end_entity(
            ca, ca_key, USER_NAME, now, [ExtendedKeyUsageOID.CLIENT_AUTH]),
        (files.voms_cert, files.voms_key): _issue_end_entity(
            ca, ca_key, VOMS_NAME, now, [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
    }
    for (certificate_path, key_path), (certificate, key) in issued.items():
        _write(key_path, _key_pem(key), 0o600)
        _write(certificate_path, _pem(certificate))
    _write(files.lsc, f"{slash_dn(VOMS_NAME)}\n{slash_dn(CA_NAME)}\n".encode())


def write_crl(files: DemoFiles, ca: x509.Certificate, ca_key, now: datetime) -> None:
    """An empty CRL of C{ca}, current for L{CRL_LIFETIME}."""
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.subject)
        .last_update(now - BACKDATE)
        .next_update(now + CRL_LIFETIME)
        .add_extension(x509.CRLNumber(int(now.timestamp())), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write(files.trust_stem(ca) + ".r0", crl.public_bytes(serialization.Encoding.PEM))


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
    return os.path.exists(files.trust_stem(ca) + ".0") and os.path.exists(files.lsc)


def _crl_current(files: DemoFiles, ca: x509.Certificate, now: datetime) -> bool:
    try:
        with open(files.trust_stem(ca) + ".r0", "rb") as f:
            crl = x509.load_pem_x509_crl(f.read())
    except (OSError, ValueError):
        return False
    return crl.next_update_utc is not None and crl.next_update_utc > now + CERTIFICATE_RENEWAL


# -- the VOMS proxy --------------------------------------------------------------


def attribute_certificate(voms_cert: x509.Certificate, voms_key, holder: x509.Certificate,
                          not_before: datetime, not_after: datetime) -> cms.AttributeCertificateV2:
    """
    An RFC 5755 AC as a VOMS server issues it: for C{holder}, FQAN
    C{/demo.occid.example}, policyAuthority C{demo.occid.example://localhost:15000},
    the signer's certificate embedded (certseq), its key id (AKI), noRevAvail.
    """
    def directory_name(name: x509.Name):
        return asn1_x509.GeneralName(name="directory_name", value=asn1_x509.Name.load(name.public_bytes()))

    fqans = cms.IetfAttrSyntax({
        "policy_authority": [asn1_x509.GeneralName(
            name="uniform_resource_identifier", value=f"{VO}://{VOMS_HOST}:15000")],
        "values": [cms.IetfAttrValue(name="octets", value=f"/{VO}".encode())],
    })
    signer = asn1_x509.Certificate.load(voms_cert.public_bytes(serialization.Encoding.DER))
    key_id = voms_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    extensions = (
        (voms.CERTSEQ, voms.CertSeq([voms.SignerCertificates([signer])])),
        (voms.NO_REV_AVAIL, core.Null()),
        (voms.AUTHORITY_KEY_IDENTIFIER, asn1_x509.AuthorityKeyIdentifier({"key_identifier": key_id})),
    )
    info = cms.AttributeCertificateInfoV2({
        "version": "v2",
        "holder": {"base_certificate_id": {"issuer": [directory_name(holder.issuer)],
                                           "serial": holder.serial_number}},
        "issuer": cms.AttCertIssuer(name="v2_form", value={
            "issuer_name": [directory_name(voms_cert.subject)]}),
        "signature": {"algorithm": "sha256_rsa"},
        "serial_number": secrets.randbits(63),
        "att_cert_validity_period": {
            "not_before_time": core.GeneralizedTime(not_before.replace(microsecond=0)),
            "not_after_time": core.GeneralizedTime(not_after.replace(microsecond=0)),
        },
        "attributes": [{"type": voms.FQAN_ATTRIBUTE, "values": [core.Any.load(fqans.dump())]}],
        "extensions": [
            {"extn_id": oid, "critical": False, "extn_value": core.ParsableOctetString(value.dump())}
            for oid, value in extensions
        ],
    })
    return cms.AttributeCertificateV2({
        "ac_info": info,
        "signature_algorithm": {"algorithm": "sha256_rsa"},
        "signature": voms_key.sign(info.dump(), padding.PKCS1v15(), hashes.SHA256()),
    })


def make_proxy(files: DemoFiles, now: datetime) -> None:
    """
    A 12-hour RFC 3820 proxy of the user carrying a VOMS AC, written as the
    proxy file: proxy certificate, its key, the user certificate (mode 0600).
    """
    user, user_key = _read_pair(files.user_cert, files.user_key)
    voms_cert, voms_key = _read_pair(files.voms_cert, files.voms_key)
    key = _rsa()
    not_before, not_after = now - BACKDATE, now + PROXY_LIFETIME
    serial = secrets.randbits(31) | 1 << 30
    acs = voms.ACLists([voms.ACList([attribute_certificate(voms_cert, voms_key, user, not_before, not_after)])])
    subject = x509.Name([*user.subject.rdns, x509.RelativeDistinguishedName(
        [x509.NameAttribute(NameOID.COMMON_NAME, str(serial))])])
    pci = gsiproxy.ProxyCertInfo({"proxy_policy": {"policy_language": gsiproxy.INHERIT_ALL}}).dump()
    certificate = _sign(subject, key.public_key(), user.subject, user_key, not_before, not_after, [
        (_key_usage(signature=True, encipherment=True), True),
        (x509.UnrecognizedExtension(x509.ObjectIdentifier(gsiproxy.PCI), pci), True),
        (x509.UnrecognizedExtension(x509.ObjectIdentifier(voms.AC_EXTENSION), acs.dump()), False),
    ], serial=serial)
    _write(files.proxy, _pem(certificate) + _key_pem(key) + _pem(user), 0o600)


def _proxy_current(files: DemoFiles, now: datetime) -> bool:
    found = _read_certificates(files.proxy)
    users = _read_certificates(files.user_cert)
    return (len(found) == 2 and users[:1] == found[1:]
            and found[0].not_valid_after_utc > now + PROXY_RENEWAL)


def make_ssh_key(files: DemoFiles) -> None:
    """An ed25519 SSH key pair for the user (OpenSSH formats)."""
    key = ed25519.Ed25519PrivateKey.generate()
    _write(files.ssh_key, key.private_bytes(serialization.Encoding.PEM,
                                            serialization.PrivateFormat.OpenSSH,
                                            serialization.NoEncryption()), 0o600)
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                           serialization.PublicFormat.OpenSSH)
    _write(files.ssh_public_key, public + b" occid-demo\n")


def ensure_credentials(files: DemoFiles, now: datetime) -> None:
    """
    Make what is missing or close to its end, and reuse the rest: the PKI,
    the CRL (re-signed a day before it expires), the proxy (made again an
    hour before it expires) and the SSH key.
    """
    os.makedirs(files.directory, mode=0o700, exist_ok=True)
    if not _pki_current(files, now):
        make_pki(files, now)
    ca, ca_key = _read_pair(files.ca, files.ca_key)
    if not _crl_current(files, ca, now):
        write_crl(files, ca, ca_key, now)
    if not _proxy_current(files, now):
        make_proxy(files, now)
    if not (os.path.exists(files.ssh_key) and os.path.exists(files.ssh_public_key)):
        make_ssh_key(files)


# -- configuration and environment --------------------------------------------------


@dataclass(frozen=True)
class Image:
    """One AMI of the emulator's catalogue."""

    id: str
    name: str


def demo_images() -> tuple[Image, ...]:
    """The AMIs of C{demo_amis.json}, in file order."""
    with open(AMIS_PATH, encoding="utf-8") as f:
        return tuple(Image(entry["ami_id"], entry["name"]) for entry in json.load(f))


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Demo:
    """A prepared demo: its files, occid's port and the emulator's."""

    files: DemoFiles
    port: int
    emulator_port: int
    images: tuple[Image, ...]

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}"

    @property
    def emulator_url(self) -> str:
        return f"http://127.0.0.1:{self.emulator_port}"


def config_text(demo: Demo) -> str:
    """The occid.toml of C{demo}."""
    files = demo.files
    quote = json.dumps  # a JSON string is a TOML basic string
    quoted_list = lambda values: "[" + ", ".join(quote(v) for v in values) + "]"
    return f"""\
# Written by `twistd occid --demo` at every start; changes here are overwritten.
# See etc/occid.toml in the occid sources for every key.

[server]
listen = "tcp:{demo.port}:interface=127.0.0.1"
public_url = {quote(demo.url)}
host_cert = {quote(files.host_cert)}
host_key = {quote(files.host_key)}

[grid]
ca_dir = {quote(files.certificates)}
vomsdir = {quote(files.vomsdir)}
crl = "require"

[aws]
region = {quote(REGION)}
endpoint_url = {quote(demo.emulator_url)}
instance_types = {quoted_list(INSTANCE_TYPES)}
network_create = true
network_delete = true

[images]
policy = "listed"
list = {quoted_list(image.id for image in demo.images)}

[[accounts]]
name = "demo"
fqans = [{quote("/" + VO)}]
visibility = "owner"
manager_fqans = [{quote(f"/{VO}/Role=VMManager")}]
"""


def set_environment(files: DemoFiles) -> None:
    """
    Fake AWS credentials for this process, no AWS setting of the user's
    (nor ~/.aws), and moto's settings, which it reads when imported.
    """
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        del os.environ[name]
    os.environ.update(
        AWS_ACCESS_KEY_ID="demo",
        AWS_SECRET_ACCESS_KEY="demo",
        AWS_DEFAULT_REGION=REGION,
        AWS_CONFIG_FILE=files.aws_config,
        AWS_SHARED_CREDENTIALS_FILE=files.aws_credentials,
        MOTO_AMIS_PATH=AMIS_PATH,
        MOTO_ENABLE_AMI_VALIDATION="true",
        MOTO_EC2_ENABLE_INSTANCE_TYPE_VALIDATION="true",
        MOTO_ENABLE_KEYPAIR_VALIDATION="true",
    )


def prepare(directory: str, port: int, now: datetime | None = None) -> Demo:
    """
    Everything before the daemon is built: credentials, the environment and
    the configuration file (read by the caller like any other).
    """
    files = DemoFiles(directory)
    ensure_credentials(files, now or datetime.now(UTC))
    demo = Demo(files=files, port=port, emulator_port=free_port(), images=demo_images())
    set_environment(files)
    _write(files.config, config_text(demo).encode())
    return demo


# -- services ---------------------------------------------------------------------


class EmulatorService(Service):
    """
    moto's EC2 in this process, on 127.0.0.1 at the demo's emulator port,
    with one VPC and subnet made at start; stopped after the reactor has
    shut down, once the EC2 thread pool has finished its calls (stopping it
    earlier would leave those calls retrying against nothing).

    @ivar vpc_id: the VPC made at start.
    """

    def __init__(self, demo: Demo, reactor):
        self.demo = demo
        self.vpc_id: str | None = None
        self._server = None
        self._reactor = reactor

    def startService(self) -> None:
        # Imported here: moto reads MOTO_* (set by prepare) when imported.
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        # ThreadedMotoServer waits forever if it cannot bind: fail clearly first.
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", self.demo.emulator_port))
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.demo.emulator_port,
                                          verbose=False)
        self._server.start()
        self.vpc_id = create_network(self.demo.emulator_url)
        super().startService()

    def stopService(self) -> None:
        super().stopService()
        self._reactor.addSystemEventTrigger("after", "shutdown", self._stop_server)

    def _stop_server(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


def create_network(endpoint_url: str) -> str:
    """A VPC called C{occid-demo} with one subnet in the emulator; its id."""
    client = boto3.client("ec2", region_name=REGION, endpoint_url=endpoint_url)
    vpc_id = client.create_vpc(CidrBlock="10.42.0.0/16", TagSpecifications=[{
        "ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": "occid-demo"}]}])["Vpc"]["VpcId"]
    client.create_subnet(VpcId=vpc_id, CidrBlock="10.42.1.0/24", AvailabilityZone=f"{REGION}a")
    return vpc_id


def _plain_stdout(text: str) -> None:
    """Write to the process's real standard output, around twistd's log redirection."""
    sys.__stdout__.write(text)
    sys.__stdout__.flush()


class AnnounceService(Service):
    """Prints L{instructions} when started (after the listener, in the daemon's tree)."""

    def __init__(self, demo: Demo, emulator: EmulatorService,
                 write: Callable[[str], None] = _plain_stdout):
        self.demo = demo
        self.emulator = emulator
        self._write = write

    def startService(self) -> None:
        super().startService()
        self._write(instructions(self.demo, self.emulator.vpc_id))


# -- what to try ------------------------------------------------------------------

#: Marks the lines that start the shell commands in L{instructions}.
CURL_HEADING = "== curl: run these in order, in one shell =="
ROCCI_HEADING = "== rOCCI-cli (occi) =="
END_HEADING = "== end of the occid demo commands =="


def create_body(demo: Demo, vpc_id: str) -> str:
    """The text/plain body creating a VM with the demo's SSH key, in the demo VPC."""
    with open(demo.files.ssh_public_key, encoding="ascii") as f:
        ssh_key = f.read().strip()
    image = demo.images[0]
    os_tpl = infra.os_tpl_mixin(image.id, image.name, "localhost")
    category = lambda c, kind: f'Category: {c.term}; scheme="{c.scheme}"; class="{kind}"'
    return "\n".join([
        category(infra.COMPUTE, "kind"),
        category(os_tpl, "mixin"),
        f'Category: {infra.resource_tpl_term("t3.micro")}; scheme="{infra.RESOURCE_TPL_SCHEME}"; class="mixin"',
        category(infra.SSH_KEY, "mixin"),
        'X-OCCI-Attribute: occi.core.title="demo-vm"',
        f'X-OCCI-Attribute: occi.credentials.ssh.publickey="{ssh_key}"',
        f'Link: </network/{vpc_id}>; rel="{infra.NETWORK.identifier}"; '
        f'category="{infra.NETWORKINTERFACE.identifier}"',
    ])


def instructions(demo: Demo, vpc_id: str) -> str:
    """What the demo prints once occid listens: where things are and commands to try."""
    files = demo.files
    q = shlex.quote
    curl = f"curl -sS --cacert {q(files.ca)} --cert {q(files.proxy)} --key {q(files.proxy)}"
    url = demo.url
    stop = infra.COMPUTE_STOP
    rocci = (f"occi --endpoint {url}/ --auth x509 --voms --user-cred {q(files.proxy)} "
             f"--ca-path {q(files.certificates)}")
    image = demo.images[0].id
    return f"""
occid demo: {url} (EC2 emulator at {demo.emulator_url}, VPC {vpc_id})
Files in {files.directory}: CA ca.pem, VOMS proxy proxy.pem (VO {VO}),
SSH key id_ed25519, configuration occid.toml.  The emulator forgets its
VMs when occid stops; the credentials are kept (delete the directory to
start clean).  Stop occid with Ctrl-C.

{CURL_HEADING}

# 1. The query interface: kinds, os_tpl (AMIs), resource_tpl (instance types), actions
{curl} -i {url}/-/

# 2. Create a VM with your SSH key; the response headers show its Location, kept in $VM
VM=$({curl} -D /dev/stderr -H 'Accept: text/uri-list' -H 'Content-Type: text/plain' \\
  --data-binary {q(create_body(demo, vpc_id))} \\
  {url}/compute/) && echo "VM=$VM"

# 3. List your VMs
{curl} -i -H 'Accept: text/uri-list' {url}/compute/

# 4. Describe the VM
{curl} -i "$VM"

# 5. Stop it
{curl} -i -X POST -H 'Content-Type: text/plain' \\
  --data-binary 'Category: {stop.term}; scheme="{stop.scheme}"; class="action"' "$VM?action=stop"

# 6. Delete it
{curl} -i -X DELETE "$VM"

{ROCCI_HEADING}

{rocci} --action list --resource compute
{rocci} --action create --resource compute --mixin os_tpl#{image} --mixin resource_tpl#t3_micro \\
  --attribute occi.core.title=demo-vm-2 --context {q('public_key=file://' + files.ssh_public_key)} \\
  --link /network/{vpc_id}
{rocci} --action describe --resource /compute/

{END_HEADING}
"""

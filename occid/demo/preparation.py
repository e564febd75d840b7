# -*- test-case-name: tests.test_demo -*-
"""
Everything the demo does before the daemon is built: L{prepare} makes or
reuses the credentials, points the AWS SDK (and moto) at the emulator
through the environment, and writes the C{occid.toml} that the ordinary
C{makeService} then reads.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from occid.atomicfile import write_file
from occid.demo.credentials import VO, DemoFiles, ensure_credentials
from occid.demo.issuer import Issuer, entitlement
from occid.demo.pki import free_port

DEFAULT_DIRECTORY = "occid-demo"
DEFAULT_PORT = 11443
REGION = "eu-west-1"
#: The second region the demo serves; its images are the last of L{AMIS_PATH}.
SECOND_REGION = "eu-central-1"
#: The AMIs the emulator offers (moto's format, read when moto is imported).
AMIS_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "demo_amis.json")
INSTANCE_TYPES = ("t3.micro", "t3.small", "t3.medium")
#: The demo user at the demo's OIDC issuer, and how long its token lasts.
TOKEN_SUBJECT = "demo-user@occid.example"
TOKEN_LIFETIME = 12 * 3600


@dataclass(frozen=True)
class Image:
    """One AMI of the emulator's catalogue."""

    id: str
    name: str
    region: str = REGION


def demo_images() -> tuple[Image, ...]:
    """
    The AMIs of C{demo_amis.json}, in file order: the last one is offered in
    L{SECOND_REGION}, the others in L{REGION}.  (The emulator has every AMI
    in every region; which region offers one is the configuration's choice.)
    """
    with open(AMIS_PATH, encoding="utf-8") as f:
        entries = json.load(f)
    return tuple(Image(entry["ami_id"], entry["name"],
                       SECOND_REGION if entry is entries[-1] else REGION) for entry in entries)


@dataclass(frozen=True)
class Demo:
    """
    A prepared demo: its files, occid's port, the emulator's, and its OIDC
    issuer (served on C{issuer.url}, 127.0.0.1).
    """

    files: DemoFiles
    port: int
    emulator_port: int
    images: tuple[Image, ...]
    issuer: Issuer

    def images_in(self, region: str) -> tuple[Image, ...]:
        """The demo's images offered in C{region}."""
        return tuple(image for image in self.images if image.region == region)

    @property
    def url(self) -> str:
        """occid's URL."""
        return f"https://localhost:{self.port}"

    @property
    def emulator_url(self) -> str:
        """The EC2 emulator's URL."""
        return f"http://127.0.0.1:{self.emulator_port}"


def _quote(value: str) -> str:
    """C{value} as a TOML basic string (which a JSON string is)."""
    return json.dumps(value)


def _quoted_list(values: Iterable[str]) -> str:
    return "[" + ", ".join(_quote(v) for v in values) + "]"


def config_text(demo: Demo) -> str:
    """The occid.toml of C{demo}."""
    files = demo.files
    return f"""\
# Written by `twistd occid --demo` at every start; changes here are overwritten.
# See etc/occid.toml in the occid sources for every key.

[server]
listen = "tcp:{demo.port}:interface=127.0.0.1"
public_url = {_quote(demo.url)}
host_cert = {_quote(files.host_cert)}
host_key = {_quote(files.host_key)}

[grid]
ca_dir = {_quote(files.certificates)}
vomsdir = {_quote(files.vomsdir)}
crl = "require"

[aws]
regions = {_quoted_list([REGION, SECOND_REGION])}
endpoint_url = {_quote(demo.emulator_url)}
instance_types = {_quoted_list(INSTANCE_TYPES)}
network_create = true
network_delete = true

[images]
policy = "listed"
list = {_quoted_list(image.id for image in demo.images_in(REGION))}

[images.regions.{SECOND_REGION}]
list = {_quoted_list(image.id for image in demo.images_in(SECOND_REGION))}

[accounting]
site_name = "OCCID-DEMO"
cloud_spool = {_quote(os.path.join(files.directory, "apel", "cloud"))}
storage_spool = {_quote(os.path.join(files.directory, "apel", "storage"))}
ip_spool = {_quote(os.path.join(files.directory, "apel", "ip"))}
cache = {_quote(os.path.join(files.directory, "accounting.json"))}

[[accounts]]
name = "demo"
fqans = [{_quote("/" + VO)}]
visibility = "owner"
manager_fqans = [{_quote(f"/{VO}/Role=VMManager")}]

[oidc]
[[oidc.issuers]]
url = {_quote(demo.issuer.url)}
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
    Everything before the daemon is built: credentials, the environment,
    the configuration file (read by the caller like any other), and the
    OIDC issuer with a token for the demo user (its entitlements come from
    userinfo, as EGI Check-in's do).
    """
    files = DemoFiles(directory)
    now = now or datetime.now(UTC)
    ensure_credentials(files, now)
    issuer = Issuer(f"http://127.0.0.1:{free_port()}")
    issuer.users[TOKEN_SUBJECT] = (entitlement(VO, "vm_operator"),)
    demo = Demo(files=files, port=port, emulator_port=free_port(), images=demo_images(),
                issuer=issuer)
    set_environment(files)
    write_file(files.config, config_text(demo).encode())
    token = issuer.mint(TOKEN_SUBJECT, lifetime=TOKEN_LIFETIME, now=now.timestamp())
    write_file(files.token, token.encode(), mode=0o600)
    return demo

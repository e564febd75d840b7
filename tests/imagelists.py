"""
Test helpers for appliance distribution: HEPiX image lists signed with
C{openssl smime -sign} by an endorser certificate of the test CA
(L{tests.pki.PKI}).
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import datetime, timedelta

from cryptography.x509.oid import ExtendedKeyUsageOID

from tests.pki import PKI

ENDORSER_DN = "/DC=org/DC=example/OU=Hosts/CN=appdb.example.org"


def image_entry(identifier: str, url: str, sha512: str, size: int, version: str = "1.0",
                title: str = "Debian 12", expires: str = "2499-12-31T22:00:00Z",
                fmt: str = "QCOW2") -> dict:
    """One C{hv:image} entry with every field atrope requires."""
    return {"hv:image": {
        "ad:group": "General group",
        "ad:mpuri": f"https://appdb.example.org/store/vo/image/{identifier}:1/",
        "ad:user:fullname": "Bruce Wayne", "ad:user:guid": "9d9dd6cf",
        "ad:user:uri": "https://appdb.example.org/store/person/bruce.wayne",
        "dc:description": "a test image", "dc:identifier": identifier, "dc:title": title,
        "dc:date:expires": expires, "hv:hypervisor": "KVM", "hv:format": fmt,
        "hv:size": str(size), "hv:uri": url, "hv:version": version, "sl:arch": "x86_64",
        "sl:comments": "", "sl:os": "Linux", "sl:osname": "Debian", "sl:osversion": "12",
        "sl:checksum:sha512": sha512}}


def image_list(images: list[dict], endorser: str = ENDORSER_DN,
               expires: str = "2499-12-31T22:00:00Z") -> bytes:
    """A HEPiX image list of C{images} naming C{endorser}."""
    return json.dumps({"hv:imagelist": {
        "dc:date:created": "2015-06-18T21:14:00Z", "dc:date:expires": expires,
        "dc:description": "test list", "dc:identifier": "76fdee70-8119-5d33-aaaa-3c57e1c60df1",
        "dc:source": "https://appdb.example.org/", "dc:title": "test list", "ad:vo": "fedcloud.egi.eu",
        "hv:endorser": {"hv:x509": {"dc:creator": "AppDB", "hv:ca": "/DC=org/DC=example/CN=Test Grid CA",
                                    "hv:dn": endorser, "hv:email": "appdb@example.org"}},
        "hv:images": images, "hv:uri": "https://appdb.example.org/image.list",
        "hv:version": "20150618211400"}}, indent=1).encode()


def endorser(pki: PKI, dn: str = ENDORSER_DN, ca=None) -> tuple[str, str]:
    """An endorser certificate and key of C{pki}'s CA (or C{ca}), written as PEM files."""
    credential = pki.issue_user(dn, ca=ca, usages=[ExtendedKeyUsageOID.EMAIL_PROTECTION])
    stem = os.path.join(pki.directory, dn.rsplit("=", 1)[1].replace(" ", "_"))
    credential.write_pair(stem + "-cert.pem", stem + "-key.pem")
    return stem + "-cert.pem", stem + "-key.pem"


def sign(content: bytes, certificate: str, key: str, opaque: bool = False) -> bytes:
    """C{content} signed with C{openssl smime -sign}, clear-signed unless C{opaque}."""
    command = ["openssl", "smime", "-sign", "-signer", certificate, "-inkey", key, "-md", "sha256"]
    if opaque:
        command.append("-nodetach")
    return subprocess.run(command, input=content, capture_output=True, check=True).stdout


def soon(now: datetime, days: int = 1) -> str:
    """A list date C{days} after C{now}, in the HEPiX form."""
    return (now + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")

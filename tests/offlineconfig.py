"""
The text of a valid C{occid.toml} over a test PKI whose EC2 nobody serves:
for tests of the daemon's wiring (L{occid.tap}) that never reach EC2.
"""

from __future__ import annotations

from tests.pki import PKI


def offline_config(pki: PKI, listen: str = "tcp:11443:interface=127.0.0.1",
                   server: str = "", extra: str = "") -> str:
    """
    The configuration, listening on C{listen}, with C{server} added to its
    C{[server]} section and C{extra} (whole sections) at its end.
    """
    return f"""
[server]
listen = "{listen}"
public_url = "https://localhost:11443"
host_cert = "{pki.directory}/hostcert.pem"
host_key = "{pki.directory}/hostkey.pem"
{server}

[grid]
ca_dir = "{pki.certificates_dir}"
vomsdir = "{pki.vomsdir}"

[aws]
endpoint_url = "http://127.0.0.1:1"

[[accounts]]
name = "testvo"
fqans = ["/testvo"]
{extra}
"""

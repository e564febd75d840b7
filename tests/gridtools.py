# -*- test-case-name: tests.test_gsi_proxy -*-
"""
Thin wrappers around the Debian grid tools (globus-proxy-utils,
voms-clients, openssl) so that tests can make real proxies from a
L{tests.pki.PKI} and cross-check verdicts with OpenSSL.

Suites that need the tools mark themselves with L{grid_tools}; without the
tools they are skipped with a reason naming the packages to install.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence

import pytest

TOOLS = ("grid-proxy-init", "voms-proxy-fake", "openssl")
VOMS_URI = "voms.example.org:15000"
_PEM_CERTIFICATE = re.compile(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", re.DOTALL)


def have_grid_tools() -> bool:
    """Whether grid-proxy-init, voms-proxy-fake and openssl are all on C{PATH}."""
    return all(shutil.which(tool) for tool in TOOLS)


grid_tools = [
    pytest.mark.interop,
    pytest.mark.skipif(
        not have_grid_tools(),
        reason="grid tools absent: apt-get install voms-clients globus-proxy-utils openssl",
    ),
]
"""C{pytestmark = grid_tools} (or C{@pytest.mark...} each) for tests that run the tools."""


def environment(pki) -> dict[str, str]:
    """The environment the tools need: the PKI's trust dir and vomsdir, no distro OpenSSL config."""
    env = dict(os.environ)
    env.update(
        OPENSSL_CONF="/dev/null",
        X509_CERT_DIR=pki.certificates_dir,
        X509_VOMS_DIR=pki.vomsdir,
    )
    return env


def _run(pki, argv: Sequence[str]) -> None:
    result = subprocess.run(
        list(argv), env=environment(pki), capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
    )
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({result.returncode}): {result.stderr.strip()}")


def _user_files(pki, cert: str | None, key: str | None) -> list[str]:
    return [
        "-cert", cert or os.path.join(pki.directory, "usercert.pem"),
        "-key", key or os.path.join(pki.directory, "userkey.pem"),
    ]


def grid_proxy_init(
    pki,
    out: str,
    *,
    rfc: bool = True,
    limited: bool = False,
    old: bool = False,
    cert: str | None = None,
    key: str | None = None,
    extra_args: Sequence[str] = (),
) -> str:
    """
    Run grid-proxy-init for the PKI's user (or C{cert}/C{key}, e.g. a proxy
    file to delegate from) and return C{out}.  C{old} makes a legacy proxy.
    """
    argv = ["grid-proxy-init", "-q", *_user_files(pki, cert, key), "-out", out]
    if old:
        argv.append("-old")
    elif rfc:
        argv.append("-rfc")
    if limited:
        argv.append("-limited")
    _run(pki, [*argv, *extra_args])
    return out


def voms_proxy_fake(
    pki,
    out: str,
    *,
    vo: str,
    fqans: Sequence[str],
    hours: int = 12,
    limited: bool = False,
    pastac: str | None = None,
    pastproxy: str | None = None,
    hostcert: str | None = None,
    hostkey: str | None = None,
    cert: str | None = None,
    key: str | None = None,
    extra_args: Sequence[str] = (),
) -> str:
    """
    Run voms-proxy-fake: an RFC proxy of the PKI's user carrying an AC for
    C{vo} with C{fqans}, signed by the PKI's VOMS credential (or
    C{hostcert}/C{hostkey}); C{pastac}/C{pastproxy} ("H:M") backdate them.
    The path length is unlimited (the tool's default is 1).  Returns C{out}.
    """
    argv = [
        "voms-proxy-fake", "-q", "-rfc", *_user_files(pki, cert, key),
        "-hostcert", hostcert or os.path.join(pki.directory, "vomscert.pem"),
        "-hostkey", hostkey or os.path.join(pki.directory, "vomskey.pem"),
        "-voms", vo, "-uri", VOMS_URI, "-path-length", "-1",
        "-hours", str(hours), "-out", out,
    ]
    for fqan in fqans:
        argv += ["-fqan", fqan]
    if limited:
        argv.append("-limited")
    if pastac:
        argv += ["-pastac", pastac]
    if pastproxy:
        argv += ["-pastproxy", pastproxy]
    _run(pki, [*argv, *extra_args])
    return out


def openssl_verify(pki, proxy_file: str) -> tuple[bool, str]:
    """
    C{openssl verify -CApath <trust dir> -allow_proxy_certs -crl_check_all}
    on the leaf of C{proxy_file} with the rest as untrusted intermediates:
    (verified, combined output).
    """
    with open(proxy_file) as f:
        certificates = [c + "\n" for c in _PEM_CERTIFICATE.findall(f.read())]
    with tempfile.TemporaryDirectory() as scratch:
        leaf = os.path.join(scratch, "leaf.pem")
        untrusted = os.path.join(scratch, "chain.pem")
        with open(leaf, "w") as f:
            f.write(certificates[0])
        with open(untrusted, "w") as f:
            f.write("".join(certificates[1:]))
        argv = ["openssl", "verify", "-CApath", pki.certificates_dir, "-allow_proxy_certs", "-crl_check_all"]
        if certificates[1:]:
            argv += ["-untrusted", untrusted]
        result = subprocess.run(
            [*argv, leaf], env=environment(pki), capture_output=True, text=True, timeout=60
        )
    return result.returncode == 0, result.stdout + result.stderr

# -*- test-case-name: tests.test_gsi_voms -*-
"""
The vomsdir: the trust material for VOMS attribute certificates, one
sub-directory per VO holding C{<host>.lsc} files (the signer chains each
VOMS server may present) and PEM certificates of VOMS servers.

Read once at start and on reload; what cannot be used is reported, not
fatal.  Pure apart from reading the directory it is given.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from cryptography import x509

from occid.gsi.readable import PARSE_ERRORS, unreadable
from occid.gsi.trust import out_of_descriptors

#: Signer chains accepted by an LSC file: each a tuple of C{(subject,
#: issuer)} slash-form DN pairs, signer first.
LscChains = tuple[tuple[tuple[str, str], ...], ...]

_LSC_SEPARATOR = re.compile(r"^-+\s*NEXT CHAIN\s*-+$")
_EMAIL_SPELLINGS = re.compile(r"/(?:emailAddress|Email|E)=", re.IGNORECASE)
_UID_SPELLINGS = re.compile(r"/(?:USERID|UID)=", re.IGNORECASE)


@dataclass(frozen=True, kw_only=True)
class VoDirectory:
    """
    The trust material for one VO: C{vomsdir/<vo>/}.

    @ivar lsc: VOMS host name to its accepted signer chains (L{LscChains}).
    @ivar certificates: the PEM certificates found in the directory.
    """

    lsc: Mapping[str, LscChains]
    certificates: tuple[x509.Certificate, ...]


@dataclass(frozen=True, kw_only=True)
class VomsDir:
    """
    A parsed vomsdir, read once at start and on reload.

    @ivar vos: VO name to its L{VoDirectory}.
    @ivar problems: what could not be used and why (unreadable files, odd
        LSC line counts), for the caller to log.
    """

    vos: Mapping[str, VoDirectory]
    problems: tuple[str, ...] = ()

    @classmethod
    def load(cls, path: str) -> VomsDir:
        """
        Read the vomsdir at C{path}: one sub-directory per VO holding
        C{<host>.lsc} files and PEM certificates.
        """
        vos = {}
        problems: list[str] = []
        for vo in sorted(os.listdir(path)):
            directory = os.path.join(path, vo)
            if os.path.isdir(directory):
                vos[vo] = _load_vo_directory(directory, problems)
        return cls(vos=MappingProxyType(vos), problems=tuple(problems))


def _load_vo_directory(directory: str, problems: list[str]) -> VoDirectory:
    lsc = {}
    certificates: list[x509.Certificate] = []
    for name in sorted(os.listdir(directory)):
        filename = os.path.join(directory, name)
        if not os.path.isfile(filename):
            continue
        try:
            with open(filename, "rb") as f:
                data = f.read()
        except OSError as e:
            if out_of_descriptors(e):
                raise
            problems.append(f"{filename}: cannot read: {e.strerror}")
            continue
        if name.endswith(".lsc"):
            lsc[name[: -len(".lsc")]] = parse_lsc(data.decode("utf-8", "replace"), filename, problems)
        elif b"-----BEGIN CERTIFICATE-----" in data:
            try:
                loaded = x509.load_pem_x509_certificates(data)
            except PARSE_ERRORS:
                problems.append(f"{filename}: not a valid PEM certificate")
                continue
            for certificate in loaded:
                problem = unreadable(certificate)
                if problem is None:
                    certificates.append(certificate)
                else:
                    problems.append(f"{filename}: unreadable certificate ({problem}); ignored")
    return VoDirectory(lsc=MappingProxyType(lsc), certificates=tuple(certificates))


def parse_lsc(text: str, filename: str, problems: list[str]) -> LscChains:
    """
    Parse an LSC file: DN lines in (subject, issuer) pairs, signer first;
    C{#} comments; alternative chains separated by C{------ NEXT CHAIN ------}
    (or C{------NEXT CHAIN------}).  A chain with an odd number of lines is
    skipped and reported in C{problems}.
    """
    chains: list[list[str]] = [[]]
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if _LSC_SEPARATOR.match(line):
            chains.append([])
        else:
            chains[-1].append(normalise_dn(line))
    parsed = []
    for number, lines in enumerate(chains, 1):
        if not lines:
            continue
        if len(lines) % 2:
            problems.append(
                f"{filename}: chain {number} has an odd number of DN lines; "
                "each certificate needs a subject line and an issuer line"
            )
            continue
        parsed.append(tuple(zip(lines[0::2], lines[1::2], strict=True)))
    return tuple(parsed)


def normalise_dn(dn: str) -> str:
    """A slash-form DN with the e-mail and user-id attribute spellings unified."""
    return _UID_SPELLINGS.sub("/UID=", _EMAIL_SPELLINGS.sub("/emailAddress=", dn))

# -*- test-case-name: tests.test_gsi_trust -*-
"""
The policy files of an IGTF trust directory, which say whose names a CA may
sign (rule C12 of docs/security.md): Globus C{.signing_policy} files
(globs) and EUGridPMA C{.namespaces} files (regular expressions).

A file that cannot be parsed gives a policy that permits nothing and says
why; nothing here reads the disk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class NamespacePolicy:
    """
    The rules of a C{.namespaces} file: (issuer DN, PERMIT/DENY, subject
    regex); C{error} is set when the file could not be parsed, and then the
    policy permits nothing.
    """

    rules: tuple[tuple[str, bool, re.Pattern[str]], ...] = ()
    error: str | None = None

    def for_ca(self, dn: str) -> NamespacePolicy:
        """These rules read in the file of the CA C{dn}: C{Issuer SELF} becomes C{dn}."""
        rules = tuple(
            (dn if issuer.upper() == "SELF" else issuer, permit, p) for issuer, permit, p in self.rules
        )
        return NamespacePolicy(rules=rules, error=self.error)

    def verdict(self, issuer_dn: str, subject_dn: str) -> str | None:
        """C{None} if C{issuer_dn} may sign C{subject_dn}, else why not."""
        if self.error:
            return f"the namespaces file is unusable ({self.error})"
        permitted = False
        for issuer, permit, pattern in self.rules:
            if issuer.lower() != issuer_dn.lower() or not pattern.fullmatch(subject_dn):
                continue
            if not permit:
                return f"the namespaces policy of {issuer_dn} denies {subject_dn}"
            permitted = True
        if permitted:
            return None
        return f"the namespaces policy of {issuer_dn} does not permit {subject_dn}"


@dataclass(frozen=True)
class SigningPolicy:
    """
    The grants of a C{.signing_policy} file: (CA DN, subject glob regexes);
    C{error} as for L{NamespacePolicy}.
    """

    grants: tuple[tuple[str, tuple[re.Pattern[str], ...]], ...] = ()
    error: str | None = None

    def verdict(self, issuer_dn: str, subject_dn: str) -> str | None:
        """C{None} if C{issuer_dn} may sign C{subject_dn}, else why not."""
        if self.error:
            return f"the signing_policy file is unusable ({self.error})"
        for ca, patterns in self.grants:
            if ca.lower() == issuer_dn.lower() and any(p.fullmatch(subject_dn) for p in patterns):
                return None
        return f"the signing_policy of {issuer_dn} does not permit {subject_dn}"


_TOKEN = re.compile(r"""\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+))""")


def _tokens(text: str) -> list[tuple[str, bool]]:
    """(token, quoted) pairs; C{#} comments and backslash-newline continuations removed."""
    lines = []
    for line in text.replace("\\\n", " ").splitlines():
        if not line.lstrip().startswith("#"):
            lines.append(line)
    tokens = []
    for match in _TOKEN.finditer("\n".join(lines)):
        if match[1] is not None:
            tokens.append((match[1], True))
        elif match[2] is not None:
            tokens.append((match[2], True))
        elif match[3] is not None:
            tokens.append((match[3], False))
    return tokens


def parse_namespaces(text: str) -> NamespacePolicy:
    """
    Parse an EUGridPMA namespaces file: statements
    C{TO Issuer "<dn>"|SELF PERMIT|DENY Subject "<regex>"}; keywords are
    case-insensitive, regexes match the whole slash DN, ignoring case.
    C{Issuer SELF} stays literal until L{NamespacePolicy.for_ca}.
    """
    tokens = _tokens(text)
    rules = []
    i = 0
    try:
        while i < len(tokens):
            words = tokens[i : i + 6]
            if len(words) < 6:
                raise ValueError("truncated statement")
            (to, _), (issuer_kw, _), (issuer, quoted), (action, _), (subject_kw, _), (pattern, _) = words
            if to.upper() != "TO" or issuer_kw.upper() != "ISSUER" or subject_kw.upper() != "SUBJECT":
                raise ValueError(f"unexpected {to!r} {issuer_kw!r} … {subject_kw!r}")
            if not quoted and issuer.upper() != "SELF":
                raise ValueError(f"issuer {issuer!r} is neither quoted nor SELF")
            if action.upper() not in ("PERMIT", "DENY"):
                raise ValueError(f"unknown action {action!r}")
            rules.append((issuer, action.upper() == "PERMIT", re.compile(pattern, re.IGNORECASE)))
            i += 6
    except (ValueError, re.error) as e:
        return NamespacePolicy(error=f"namespaces: {e}")
    return NamespacePolicy(rules=tuple(rules))


def parse_signing_policy(text: str) -> SigningPolicy:
    """
    Parse a Globus signing_policy file: blocks of C{access_id_CA X509 '<dn>'},
    C{pos_rights globus CA:sign} and C{cond_subjects globus '"<glob>" ...'}.
    Only blocks granting CA:sign count; globs (C{*}, C{?}) match the whole
    slash DN, ignoring case.
    """
    grants = []
    ca: str | None = None
    can_sign = False
    try:
        tokens = _tokens(text)
        for i in range(0, len(tokens), 3):
            statement = tokens[i : i + 3]
            if len(statement) < 3:
                raise ValueError("truncated statement")
            (keyword, _), (_, _), (value, _) = statement
            keyword = keyword.lower()
            if keyword == "access_id_ca":
                ca, can_sign = value, False
            elif keyword == "pos_rights":
                can_sign = can_sign or value.lower() == "ca:sign"
            elif keyword == "cond_subjects":
                if ca is None:
                    raise ValueError("cond_subjects before access_id_CA")
                if can_sign:
                    globs = re.findall(r'"([^"]*)"', value) or value.split()
                    grants.append((ca, tuple(_glob(g) for g in globs)))
            elif keyword != "neg_rights":
                raise ValueError(f"unknown keyword {keyword!r}")
    except ValueError as e:
        return SigningPolicy(error=f"signing_policy: {e}")
    return SigningPolicy(grants=tuple(grants))


def _glob(pattern: str) -> re.Pattern[str]:
    parts = [".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern]
    return re.compile("".join(parts), re.IGNORECASE)

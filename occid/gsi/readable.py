# -*- test-case-name: tests.test_gsi_readable -*-
"""
Certificates that cannot be read.

C{cryptography} parses a certificate's names, extensions and key only when
they are first used, so a hostile certificate that loaded fine can raise
much later, from deep inside a check.  L{unreadable} touches every lazily
parsed part once, up front, and says what could not be read;
L{PARSE_ERRORS} are the exceptions the parsers (C{cryptography} and
C{asn1crypto}) raise on malformed input, for the places that parse
attribute certificates and the signer chains embedded in them.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm

#: What parsing malformed DER may raise (C{UnicodeDecodeError} is a C{ValueError}).
PARSE_ERRORS = (
    ValueError,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
    x509.InvalidVersion,
    UnsupportedAlgorithm,
)


def unreadable(certificate: x509.Certificate) -> str | None:
    """
    Why C{certificate}'s subject, issuer, extensions or public key cannot be
    parsed, or C{None} when all of them can.
    """
    for part, read in (
        ("subject", lambda: certificate.subject),
        ("issuer", lambda: certificate.issuer),
        ("extensions", lambda: certificate.extensions),
        ("public key", certificate.public_key),
    ):
        try:
            read()
        except x509.DuplicateExtension as e:
            return f"the extension {e.oid.dotted_string} appears twice"
        except PARSE_ERRORS as e:
            return f"its {part} cannot be parsed ({e})"
    return None

# -*- test-case-name: tests.test_occi_bounds -*-
"""
The bounds every OCCI parser puts on the values it reads, whatever the
rendering (text/plain, text/occi, JSON): how many digits an integer may
have and how large it may be, that a real number is finite, how long a
string may be and which characters it may hold, how deeply JSON may nest.

A value inside these bounds can be handled by every later step (typed,
compared, rendered in any media type, sent to EC2 in a query string and
read back from EC2's XML); one outside them is refused at once.  Each check
returns the rule broken, as words for the message of the L{BadRequest} the
parser raises (the parser names the attribute or place), or C{None}.
"""

from __future__ import annotations

import math
import re

__all__ = [
    "DEPTH_LIMIT",
    "INTEGER_DIGITS",
    "INTEGER_LIMIT",
    "NUMBER_LENGTH",
    "STRING_LIMIT",
    "first_unsafe",
    "integer_problem",
    "real_problem",
    "string_problem",
]

#: The most digits an integer may be written with.
INTEGER_DIGITS = 20

#: The largest magnitude of an integer (a signed 64-bit integer).
INTEGER_LIMIT = 2**63 - 1

#: The longest a real number may be written, in characters.
NUMBER_LENGTH = 64

#: The longest string value, in characters (base64 user data of EC2's
#: 16 KiB limit takes 21,848).
STRING_LIMIT = 32768

#: The deepest a JSON body may nest arrays and objects.
DEPTH_LIMIT = 32

#: What XML 1.0 cannot carry (its C{Char} production): C0 controls other
#: than tab, LF and CR, surrogates (in a Python string, only lone ones are
#: left), U+FFFE and U+FFFF.  Such a character cannot be sent to EC2, nor
#: read back from its XML answers, nor written as UTF-8.
_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def first_unsafe(text: str) -> str | None:
    """The first character of C{text} that XML 1.0 cannot carry, as C{U+XXXX}, or C{None}."""
    match = _UNSAFE.search(text)
    return None if match is None else f"U+{ord(match.group()):04X}"


def string_problem(text: str) -> str | None:
    """
    Why C{text} cannot be a string value: longer than L{STRING_LIMIT}, or
    holding a character XML 1.0 cannot carry (NUL and other C0 controls
    except tab, LF and CR; lone surrogates; U+FFFE, U+FFFF).
    """
    if len(text) > STRING_LIMIT:
        return f"is {len(text)} characters long; at most {STRING_LIMIT} are accepted"
    unsafe = first_unsafe(text)
    if unsafe is not None:
        return (f"holds the character {unsafe}; control characters other than tab, "
                "LF and CR, lone surrogates, U+FFFE and U+FFFF are refused")
    return None


def integer_problem(digits: str) -> str | None:
    """
    Why the written integer C{digits} (an optional C{-}, then decimal
    digits) cannot be read: more than L{INTEGER_DIGITS} digits, or a
    magnitude over L{INTEGER_LIMIT}.  The digits are counted before any
    conversion, so no unbounded number is ever converted.
    """
    if len(digits.lstrip("-+")) > INTEGER_DIGITS:
        return f"has more than {INTEGER_DIGITS} digits"
    if abs(int(digits)) > INTEGER_LIMIT:
        return f"is beyond ±{INTEGER_LIMIT} (a signed 64-bit integer)"
    return None


def real_problem(text: str) -> str | None:
    """
    Why the written real number C{text} cannot be read: longer than
    L{NUMBER_LENGTH} characters, or not finite once read (C{1e999}).
    """
    if len(text) > NUMBER_LENGTH:
        return f"is written with more than {NUMBER_LENGTH} characters"
    try:
        value = float(text)
    except ValueError:
        return "is not a number"
    if not math.isfinite(value):
        return "is not a finite number"
    return None

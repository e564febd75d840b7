# -*- test-case-name: tests.test_ec2_compute,tests.test_ec2_storage -*-
"""
Checks of single request values that the EC2 plans and the memory fake
share (L{occid.ec2.planning}, L{occid.testing.plans}): an SSH key, user
data, an image name, a volume size.  Each raises the L{BadRequest} the
user sees.
"""

from __future__ import annotations

import base64
import binascii
import math
import re

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_ssh_public_key

from occid.occi.errors import BadRequest
from occid.occi.model import AttributeValue

__all__ = ["MAX_SIZE", "MIN_SIZE", "USER_DATA_LIMIT", "check_image_name", "check_ssh_key",
           "decode_user_data", "size_of"]

#: EC2's limit on user data, in raw bytes before base64.
USER_DATA_LIMIT = 16384

#: EBS limits for gp3 volumes, in GiB.
MIN_SIZE, MAX_SIZE = 1, 16384

#: What EC2 accepts as an image name (CreateImage): 3 to 128 of these.
_IMAGE_NAME = re.compile(r"[A-Za-z0-9()\[\] ./\-'@_]{3,128}")


def check_ssh_key(text: str) -> bytes:
    """
    The OpenSSH public key C{text}, if EC2 can import it (RSA of 2048 bits
    or more, or ed25519).  @raise BadRequest: otherwise.
    """
    data = text.strip().encode("utf-8", "replace")
    try:
        key = load_ssh_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm) as error:
        raise BadRequest(f"the SSH public key cannot be read ({error})") from None
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < 2048:
            raise BadRequest(f"the SSH key is RSA of {key.key_size} bits; EC2 needs 2048 or more")
    elif not isinstance(key, ed25519.Ed25519PublicKey):
        raise BadRequest("the SSH key must be RSA (2048 bits or more) or ed25519")
    return data


def decode_user_data(text: str) -> bytes:
    """User data as sent (base64), decoded.  @raise BadRequest: not base64, or over 16 KiB."""
    try:
        raw = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest("user data must be base64-encoded") from None
    if len(raw) > USER_DATA_LIMIT:
        raise BadRequest(f"user data is {len(raw)} bytes; EC2 accepts {USER_DATA_LIMIT} at most")
    return raw


def check_image_name(name: AttributeValue | None) -> None:
    """
    @raise BadRequest: C{name} (the C{name} of a C{save}, when given) is not
        an image name EC2 accepts.
    """
    if name is None or name == "":
        return
    if not _IMAGE_NAME.fullmatch(str(name)):
        raise BadRequest(f"the image name {str(name)!r} must be 3 to 128 letters, digits, "
                         "spaces or ( ) [ ] . / - ' @ _")


# -- storage -----------------------------------------------------------------


def size_of(value: AttributeValue) -> int:
    """A requested size in GiB, rounded up.  @raise BadRequest: not a size EBS offers."""
    try:
        size = math.ceil(float(value))
    except (TypeError, ValueError):
        raise BadRequest(f"occi.storage.size must be a number of GiB, not {value!r}") from None
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise BadRequest(f"occi.storage.size must be between {MIN_SIZE} and {MAX_SIZE} GiB")
    return size

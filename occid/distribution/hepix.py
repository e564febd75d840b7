# -*- test-case-name: tests.test_distribution_pure -*-
"""
A HEPiX image list (egi.md section 5.1), once its S/MIME signature is
verified (L{occid.distribution.smime}): the list's fields, its endorser
and expiry, and its images as L{Appliance}s.

A list missing a required field, naming another endorser than the
configured one (or than its signer), or malformed is refused whole
(L{Refused}); an expired list is read, and says so (L{ImageList.expired}),
so that its images are retired.  One bad image entry is refused alone,
with its reason; an expired image is left out, so it is retired like one
the list dropped.  Pure: no boto3, no Twisted.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from occid.distribution.appliance import Appliance, Refused, qemu_format

__all__ = ["ImageList", "parse_list"]

#: Fields every list has (atrope's C{HepixImageList.required_fields}).
LIST_FIELDS = ("dc:date:created", "dc:date:expires", "hv:endorser", "dc:identifier",
               "dc:description", "dc:title", "hv:images", "dc:source", "hv:version", "hv:uri")

#: Fields every image has (atrope's C{HepixImage.field_map}).
IMAGE_FIELDS = ("ad:group", "ad:mpuri", "ad:user:fullname", "ad:user:guid", "ad:user:uri",
                "dc:description", "dc:identifier", "dc:title", "hv:hypervisor", "hv:format",
                "hv:size", "hv:uri", "hv:version", "sl:arch", "sl:comments", "sl:os",
                "sl:osname", "sl:osversion", "sl:checksum:sha512")

_SHA512 = re.compile(r"[0-9a-f]{128}")


@dataclass(frozen=True)
class ImageList:
    """
    A verified image list.

    @ivar appliances: its images still valid, by key (C{dc:identifier}).
    @ivar refused: C{(image, reason)} for each image entry not used.
    """

    identifier: str
    endorser: str
    expires: datetime
    expired: bool
    appliances: dict[str, Appliance]
    refused: tuple[tuple[str, str], ...]


def _date(value: object, field: str) -> datetime:
    if not isinstance(value, str):
        raise Refused(f"{field} is not a date")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Refused(f"{field} {value!r} is not an ISO 8601 date") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_list(text: bytes, source: str, endorser: str, signer: str, now: datetime) -> ImageList:
    """
    Read the signed content C{text} of source C{source}, whose configured
    endorser is C{endorser} and whose verified signer is C{signer} (slash DNs).

    @raise Refused: the list cannot be used at all.
    """
    try:
        document = json.loads(text)
    except (ValueError, UnicodeDecodeError) as e:
        raise Refused(f"the list is not JSON ({e})") from None
    body = document.get("hv:imagelist") if isinstance(document, dict) else None
    if not isinstance(body, dict):
        raise Refused("the list has no hv:imagelist object")
    missing = [field for field in LIST_FIELDS if field not in body]
    if missing:
        raise Refused(f"the list lacks {', '.join(missing)}")
    x509 = body["hv:endorser"].get("hv:x509", {}) if isinstance(body["hv:endorser"], dict) else {}
    named = x509.get("hv:dn", "") if isinstance(x509, dict) else ""
    if signer != endorser:
        raise Refused(f"signed by {signer}, not by the configured endorser {endorser}")
    if named != endorser:
        raise Refused(f"the list names endorser {named!r}, not the configured {endorser}")
    expires = _date(body["dc:date:expires"], "dc:date:expires")
    images = body["hv:images"]
    if not isinstance(images, list):
        raise Refused("hv:images is not a list")
    appliances: dict[str, Appliance] = {}
    refused = []
    for entry in images:
        image = entry.get("hv:image") if isinstance(entry, dict) else None
        name = str(image.get("dc:identifier", "?")) if isinstance(image, dict) else "?"
        try:
            appliance = _appliance(image, source, now)
        except Refused as e:
            refused.append((name, str(e)))
            continue
        if appliance is not None:
            appliances[appliance.key] = appliance
    return ImageList(identifier=str(body["dc:identifier"]), endorser=named, expires=expires,
                     expired=expires <= now, appliances=appliances, refused=tuple(refused))


def _appliance(image: object, source: str, now: datetime) -> Appliance | None:
    """The appliance of one C{hv:image} entry; C{None} once it expired."""
    if not isinstance(image, dict):
        raise Refused("an entry of hv:images is not an hv:image object")
    missing = [field for field in IMAGE_FIELDS if field not in image]
    if missing:
        raise Refused(f"the image lacks {', '.join(missing)}")
    if "dc:date:expires" in image and _date(image["dc:date:expires"], "dc:date:expires") <= now:
        return None
    sha512 = str(image["sl:checksum:sha512"]).lower()
    if not _SHA512.fullmatch(sha512):
        raise Refused("sl:checksum:sha512 is not 128 hex digits")
    try:
        size = int(image["hv:size"])
    except (TypeError, ValueError):
        raise Refused(f"hv:size {image['hv:size']!r} is not a number of bytes") from None
    url = str(image["hv:uri"])
    if not url.startswith("https://"):
        raise Refused(f"hv:uri {url!r} is not an https:// URL")
    return Appliance(
        source=source, key=str(image["dc:identifier"]),
        version=f"{image['hv:version']}-{sha512[:16]}",
        title=str(image["dc:title"]), url=url, size=size, reference=str(image["ad:mpuri"]),
        sha512=sha512, disk_format=qemu_format(str(image["hv:format"])),
        architecture=str(image["sl:arch"]) or "x86_64", os_distro=str(image["sl:osname"]),
        os_version=str(image["sl:osversion"]), appdb_id=str(image["dc:identifier"]))

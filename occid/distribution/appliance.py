# -*- test-case-name: tests.test_distribution_pure -*-
"""
One appliance version as a source publishes it, before anything is
downloaded, and why a source's entry was refused.

Pure: no boto3, no Twisted.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

__all__ = ["Appliance", "Refused", "qemu_format"]

#: The disk formats a source may declare, by their lowercase name, as
#: C{qemu-img} calls them; others (OVA, a tar archive) are refused.
_QEMU_FORMATS = {
    "qcow2": "qcow2", "raw": "raw", "img": "raw", "vmdk": "vmdk", "vdi": "vdi",
    "vhd": "vpc", "vpc": "vpc", "vhdx": "vhdx", "qed": "qed",
}


class Refused(Exception):
    """A source, a list or an image is not used; C{str()} is the reason logged."""


def qemu_format(declared: str) -> str:
    """
    The C{qemu-img} format of a declared disk format (C{QCOW2}, C{raw}),
    or C{""} when none was declared (C{qemu-img} then probes it).

    @raise Refused: a format C{qemu-img} does not read.
    """
    if not declared:
        return ""
    try:
        return _QEMU_FORMATS[declared.lower()]
    except KeyError:
        raise Refused(f"disk format {declared!r} is not one qemu-img reads "
                      f"({', '.join(sorted(set(_QEMU_FORMATS)))})") from None


@dataclass(frozen=True)
class Appliance:
    """
    One version of an appliance of a source.

    @ivar source: the C{[[images.sources]]} name.
    @ivar key: the appliance within its source, the same for every version
        (an OCI repository, a HEPiX image's C{dc:identifier}).
    @ivar version: what tells this version's content from another's (an
        OCI manifest digest; a HEPiX C{hv:version} with its sha512).
    @ivar url: where the disk is downloaded from.
    @ivar size: its size in bytes, as the source declares it.
    @ivar sha512: the expected SHA-512 of the download (HEPiX), or C{""}.
    @ivar digest: the expected OCI blob digest (C{sha256:…}), or C{""}.
    @ivar disk_format: the C{qemu-img} format (L{qemu_format}), or C{""}.
    @ivar reference: the marketplace identifier (L{occid.ec2.distributed.REFERENCE_TAG}).
    @ivar boot_mode: C{uefi}, C{legacy-bios} or C{""} (the architecture's usual one).
    """

    source: str
    key: str
    version: str
    title: str
    url: str
    size: int
    reference: str
    sha512: str = ""
    digest: str = ""
    disk_format: str = ""
    architecture: str = "x86_64"
    os_distro: str = ""
    os_version: str = ""
    egi_tag: str = ""
    image_ref: str = ""
    appdb_id: str = ""
    boot_mode: str = ""

    @property
    def import_id(self) -> str:
        """This version's key, on its AMI and its snapshot (32 hex digits)."""
        text = f"{self.source}\0{self.key}\0{self.version}"
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    @property
    def ec2_architecture(self) -> str:
        """The EC2 architecture name (C{x86_64}, C{arm64}, C{i386})."""
        return {"aarch64": "arm64", "amd64": "x86_64", "x86-64": "x86_64",
                "i686": "i386"}.get(self.architecture.lower(), self.architecture.lower())

    @property
    def ec2_boot_mode(self) -> str:
        """The C{BootMode} of RegisterImage: declared, else UEFI on arm64, BIOS otherwise."""
        if self.boot_mode:
            return self.boot_mode
        return "uefi" if self.ec2_architecture == "arm64" else "legacy-bios"

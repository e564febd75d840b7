# -*- test-case-name: tests.test_distribution_pure -*-
"""
An OCI artefact of EGI's Artefact Registry (egi.md section 5.2) as an
L{Appliance}: its manifest's annotations (and its disk layer's) give the
EGI tag (mandatory), title, OS, version, architecture and disk format; the
disk is its one layer, whose digest the download is checked against.

Pure: no boto3, no Twisted.
"""

from __future__ import annotations

import json
import re

from occid.distribution.appliance import Appliance, Refused, qemu_format

__all__ = ["EGI_TAG", "appliance_of", "newest", "parse_manifest"]

#: The mandatory annotation: an artefact without it is not an appliance.
EGI_TAG = "eu.egi.cloud.tag"

#: Manifest media types read (OCI image manifest; Docker's v2 schema 2).
MANIFEST_TYPES = ("application/vnd.oci.image.manifest.v1+json",
                  "application/vnd.docker.distribution.manifest.v2+json")

_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def parse_manifest(body: bytes) -> dict:
    """The manifest in C{body}. @raise Refused: not an image manifest."""
    try:
        manifest = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise Refused("the manifest is not JSON") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("layers"), list):
        raise Refused("the manifest has no layers")
    return manifest


def appliance_of(manifest: dict, manifest_digest: str, source: str, registry_host: str,
                 repository: str, tag: str) -> Appliance:
    """
    The appliance of artefact C{repository:tag} (manifest C{manifest},
    digest C{manifest_digest}) of C{registry_host}.

    @raise Refused: no EGI tag, not one disk layer, a bad digest or format.
    """
    layers = [layer for layer in manifest["layers"] if isinstance(layer, dict)]
    if len(layers) != 1 or len(manifest["layers"]) != 1:
        raise Refused(f"{repository}:{tag} has {len(manifest['layers'])} layers, not one disk")
    layer = layers[0]
    annotations = {**_strings(manifest.get("annotations")), **_strings(layer.get("annotations"))}
    egi_tag = annotations.get(EGI_TAG, "")
    if not egi_tag:
        raise Refused(f"{repository}:{tag} has no {EGI_TAG} annotation")
    digest = layer.get("digest", "")
    size = layer.get("size")
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise Refused(f"{repository}:{tag}: its layer digest {digest!r} is not sha256:<hex>")
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        raise Refused(f"{repository}:{tag}: its layer size {size!r} is not a byte count")
    glance = "org.openstack.glance."
    title = (annotations.get("eu.egi.cloud.image.title")
             or annotations.get("org.opencontainers.image.title") or f"{repository}:{tag}")
    firmware = annotations.get(glance + "hw_firmware_type", "").lower()
    return Appliance(
        source=source, key=f"{registry_host}/{repository}", version=manifest_digest,
        title=title, url=f"/v2/{repository}/blobs/{digest}", size=size,
        reference=f"{registry_host}/{repository}:{tag}-{manifest_digest}", digest=digest,
        disk_format=qemu_format(annotations.get(glance + "disk_format", "")),
        architecture=annotations.get(glance + "architecture") or "x86_64",
        os_distro=annotations.get(glance + "os_distro", ""),
        os_version=annotations.get(glance + "os_version", ""),
        egi_tag=egi_tag,
        image_ref=annotations.get("eu.egi.cloud.image_ref") or f"{repository}:{tag}",
        boot_mode={"uefi": "uefi", "bios": "legacy-bios"}.get(firmware, ""))


def newest(candidates: list[tuple[str, dict, Appliance]]) -> Appliance:
    """
    The current version of a repository among its tagged artefacts
    C{(tag, manifest, appliance)}: the latest
    C{org.opencontainers.image.created} (oras sets it), then the highest tag.
    """
    def order(candidate: tuple[str, dict, Appliance]) -> tuple[str, tuple]:
        tag, manifest, _ = candidate
        created = _strings(manifest.get("annotations")).get("org.opencontainers.image.created", "")
        return created, tuple((int(p), "") if p.isdigit() else (-1, p)
                              for p in re.split(r"[.\-_]", tag))

    return max(candidates, key=order)[2]


def _strings(value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): v for k, v in value.items() if isinstance(v, str)}

# -*- test-case-name: tests.test_distribution_command -*-
"""
Read one C{[[images.sources]]} entry: its current appliances, or why it
could not be read (then nothing of it is retired this pass); and download
one appliance's disk, checked against what its source declared (OCI blob
digest and size; HEPiX sha512 and size).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime

from occid.distribution.appliance import Appliance, Refused
from occid.distribution.fetch import Downloaded, Http
from occid.distribution.hepix import parse_list
from occid.distribution.oci import appliance_of, newest, parse_manifest
from occid.distribution.registry import Registry
from occid.distribution.smime import verify
from occid.gsi.trust import TrustStore
from occid.imagesconfig import ImageSource

__all__ = ["SourceRead", "download", "read_source"]


@dataclass(frozen=True)
class SourceRead:
    """
    @ivar wanted: the current appliances by key; C{None}: not read.
    @ivar refusals: the reasons of what was refused (whole source or entries).
    """

    wanted: dict[str, Appliance] | None
    refusals: tuple[str, ...] = ()


def read_source(source: ImageSource, http: Http, trust: TrustStore, now: datetime) -> SourceRead:
    """What C{source} publishes now; never raises for what the source sends."""
    try:
        if source.is_list:
            return _read_list(source, http, trust, now)
        return _read_registry(source, Registry(source.registry, http))
    except Refused as e:
        return SourceRead(None, (str(e),))


def _read_list(source: ImageSource, http: Http, trust: TrustStore, now: datetime) -> SourceRead:
    body, _ = http.read(source.image_list, _token_header(source))
    signed = verify(body, trust, now)
    read = parse_list(signed.content, source.name, source.endorser, signed.signer, now)
    refusals = tuple(f"image {name}: {reason}" for name, reason in read.refused)
    if read.expired:
        return SourceRead({}, refusals + (f"the list expired on {read.expires:%Y-%m-%d %H:%M}Z: "
                                          "its images are retired",))
    return SourceRead(read.appliances, refusals)


def _token_header(source: ImageSource) -> dict[str, str]:
    """The AppDB token of C{source} as HTTP basic C{(<token>, "x-oauth-basic")}, if it has one."""
    if not source.token_file:
        return {}
    try:
        with open(source.token_file, encoding="utf-8") as f:
            token = f.read().strip()
    except OSError as e:
        raise Refused(f"token_file {source.token_file}: {e.strerror}") from None
    pair = base64.b64encode(f"{token}:x-oauth-basic".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


def _read_registry(source: ImageSource, registry: Registry) -> SourceRead:
    repositories = ([source.repository] if source.repository
                    else registry.repositories(source.project, source.harbor))
    wanted, refusals = {}, []
    for repository in repositories:
        candidates = []
        try:
            tags = registry.tags(repository)
        except Refused as e:
            refusals.append(f"{repository}: {e}")
            continue
        for tag in tags:
            try:
                body, digest = registry.manifest(repository, tag)
                manifest = parse_manifest(body)
                candidates.append((tag, manifest, appliance_of(
                    manifest, digest, source.name, registry.host, repository, tag)))
            except Refused as e:
                refusals.append(f"{repository}:{tag}: {e}" if repository not in str(e) else str(e))
        if candidates:
            appliance = newest(candidates)
            wanted[appliance.key] = appliance
    return SourceRead(wanted, tuple(refusals))


def download(source: ImageSource, appliance: Appliance, http: Http, path: str) -> Downloaded:
    """
    Download C{appliance}'s disk into C{path} and check it.

    @raise Refused: the transfer failed, or size or digest differ.
    """
    if source.is_list:
        url, headers = appliance.url, {}
    else:
        registry = Registry(source.registry, http)
        repository = appliance.key.split("/", 1)[1]
        registry.tags(repository)  # fetches a token when the registry wants one
        url, headers = registry.url + appliance.url, registry.blob_headers(repository)
    got = http.download(url, path, appliance.size, headers)
    if got.size != appliance.size:
        raise Refused(f"{appliance.title}: downloaded {got.size} bytes, not the "
                      f"{appliance.size} declared (truncated?)")
    if appliance.sha512 and got.sha512 != appliance.sha512:
        raise Refused(f"{appliance.title}: the download's sha512 is not the list's")
    if appliance.digest and f"sha256:{got.sha256}" != appliance.digest:
        raise Refused(f"{appliance.title}: the blob's digest is sha256:{got.sha256}, "
                      f"not {appliance.digest}")
    return got

# -*- test-case-name: tests.test_distribution_command -*-
"""
The OCI distribution API (and Harbor's project listing) as C{occid-images}
reads it: repositories of a project, tags of a repository, manifests with
their digest checked, blob URLs; anonymous bearer tokens fetched on a 401
challenge (registry.egi.eu's public projects).
"""

from __future__ import annotations

import hashlib
import json
import re
import urllib.parse
from typing import Any

from occid.distribution.appliance import Refused
from occid.distribution.fetch import Http, HttpError
from occid.distribution.oci import MANIFEST_TYPES

__all__ = ["Registry"]

#: Entries asked for per page of a listing.
PAGE = 100


class Registry:
    """One registry, at C{url} (C{https://registry.egi.eu})."""

    def __init__(self, url: str, http: Http):
        self.url = url.rstrip("/")
        self.host = urllib.parse.urlsplit(self.url).netloc
        self._http = http
        self._tokens: dict[str, str] = {}

    def _get(self, path: str, scope: str, accept: str = "") -> tuple[bytes, object]:
        headers = {"Accept": accept} if accept else {}
        if scope in self._tokens:
            headers["Authorization"] = f"Bearer {self._tokens[scope]}"
        try:
            return self._http.read(self.url + path, headers)
        except HttpError as e:
            if e.status != 401 or scope in self._tokens or not e.challenge.startswith("Bearer"):
                raise
            self._tokens[scope] = self._token(e.challenge, scope)
            return self._get(path, scope, accept)

    def _token(self, challenge: str, scope: str) -> str:
        fields = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
        if "realm" not in fields:
            raise Refused(f"{self.host} asks for a token without a realm")
        query = urllib.parse.urlencode({"service": fields.get("service", ""), "scope": scope})
        body, _ = self._http.read(f"{fields['realm']}?{query}")
        try:
            answer = json.loads(body)
            return str(answer.get("token") or answer["access_token"])
        except (ValueError, KeyError, AttributeError):
            raise Refused(f"{self.host}'s token service answered no token") from None

    def repositories(self, project: str, harbor: bool) -> list[str]:
        """The repositories of C{project}, through Harbor's API or C{/v2/_catalog}."""
        found: list[str] = []
        if harbor:
            page = 1
            while True:
                body, _ = self._get(f"/api/v2.0/projects/{project}/repositories"
                                    f"?page={page}&page_size={PAGE}", "")
                names = [entry.get("name", "") for entry in _json(body, list)]
                found += [name for name in names if isinstance(name, str)]
                if len(names) < PAGE:
                    return sorted(found)
                page += 1
        last = ""
        while True:
            query = f"?n={PAGE}" + (f"&last={urllib.parse.quote(last)}" if last else "")
            body, _ = self._get(f"/v2/_catalog{query}", "registry:catalog:*")
            names = _json(body, dict).get("repositories") or []
            found += [name for name in names if name.startswith(project + "/")]
            if len(names) < PAGE:
                return sorted(found)
            last = names[-1]

    def tags(self, repository: str) -> list[str]:
        """The tags of C{repository}."""
        body, _ = self._get(f"/v2/{repository}/tags/list", f"repository:{repository}:pull")
        tags = _json(body, dict).get("tags") or []
        return [tag for tag in tags if isinstance(tag, str)]

    def manifest(self, repository: str, tag: str) -> tuple[bytes, str]:
        """
        The manifest of C{repository:tag} and its digest, checked against
        the registry's C{Docker-Content-Digest}.
        """
        body, headers = self._get(f"/v2/{repository}/manifests/{tag}",
                                  f"repository:{repository}:pull", ",".join(MANIFEST_TYPES))
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        announced = getattr(headers, "get", lambda name, default="": default)(
            "Docker-Content-Digest", "")
        if announced and announced != digest:
            raise Refused(f"{repository}:{tag}: the manifest's digest is {digest}, "
                          f"not the {announced} the registry announced")
        return body, digest

    def blob_headers(self, repository: str) -> dict[str, str]:
        """The headers a blob download of C{repository} needs (its token, if any)."""
        token = self._tokens.get(f"repository:{repository}:pull")
        return {"Authorization": f"Bearer {token}"} if token else {}


def _json(body: bytes, kind: type) -> Any:
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise Refused("the registry answered something that is not JSON") from None
    if not isinstance(value, kind):
        raise Refused("the registry answered JSON of an unexpected shape")
    return value

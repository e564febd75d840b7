# -*- test-case-name: tests.test_distribution_command -*-
"""
HTTP(S) for the sources: small documents read into memory (bounded), disk
images streamed to a file with their SHA-512 and SHA-256 computed on the way
(memory bounded by one chunk).  TLS trusts the system's CAs and the grid
trust directory's.  Every failure is L{Refused} with its reason.
"""

from __future__ import annotations

import contextlib
import hashlib
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from occid.distribution.appliance import Refused

__all__ = ["Downloaded", "Http"]

#: The largest document (list, manifest, listing) read into memory.
MAX_DOCUMENT = 16 * 1024 * 1024

#: Bytes read at a time while downloading.
CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Downloaded:
    """A downloaded file's size and digests (hex)."""

    size: int
    sha512: str
    sha256: str


class Http:
    """An HTTP client trusting the system's CAs and those of C{ca_dir}."""

    def __init__(self, ca_dir: str = "", timeout: float = 60.0):
        context = ssl.create_default_context()
        if ca_dir:
            # A missing trust directory leaves the system's CAs alone.
            with contextlib.suppress(OSError, ssl.SSLError):
                context.load_verify_locations(capath=ca_dir)
        self._opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context))
        self._timeout = timeout

    def open(self, url: str, headers: dict[str, str] | None = None) -> Any:
        """
        The response to GET C{url}, C{headers} sent to its host only (not
        after a redirect).  @raise Refused: it failed.
        """
        request = urllib.request.Request(url)
        for name, value in (headers or {}).items():
            request.add_unredirected_header(name, value)
        try:
            return self._opener.open(request, timeout=self._timeout)
        except urllib.error.HTTPError as e:
            e.close()
            raise HttpError(url, e.code, e.headers.get("WWW-Authenticate", "")) from None
        except (urllib.error.URLError, OSError, ValueError) as e:
            raise Refused(f"GET {url} failed: {getattr(e, 'reason', e)}") from None

    def read(self, url: str, headers: dict[str, str] | None = None) -> tuple[bytes, Any]:
        """The body (at most L{MAX_DOCUMENT} bytes) and headers of GET C{url}."""
        with self.open(url, headers) as answer:
            try:
                body = answer.read(MAX_DOCUMENT + 1)
            except OSError as e:
                raise Refused(f"GET {url}: the answer broke off ({e})") from None
            if len(body) > MAX_DOCUMENT:
                raise Refused(f"GET {url}: more than {MAX_DOCUMENT} bytes")
            return body, answer.headers

    def download(self, url: str, path: str, limit: int,
                 headers: dict[str, str] | None = None) -> Downloaded:
        """
        Stream GET C{url} into C{path}; more than C{limit} bytes is refused.
        """
        sha512, sha256, size = hashlib.sha512(), hashlib.sha256(), 0
        with self.open(url, headers) as answer, open(path, "wb") as out:
            while True:
                try:
                    chunk = answer.read(CHUNK)
                except OSError as e:
                    raise Refused(f"GET {url}: the download broke off ({e})") from None
                if not chunk:
                    break
                size += len(chunk)
                if size > limit:
                    raise Refused(f"GET {url}: more than the {limit} bytes expected")
                sha512.update(chunk)
                sha256.update(chunk)
                out.write(chunk)
        return Downloaded(size, sha512.hexdigest(), sha256.hexdigest())


class HttpError(Refused):
    """An HTTP error status; C{challenge}: its C{WWW-Authenticate} header."""

    def __init__(self, url: str, status: int, challenge: str):
        super().__init__(f"GET {url} answered {status}")
        self.status = status
        self.challenge = challenge

# -*- test-case-name: tests.test_tokens -*-
"""
The blocking calls to an OIDC issuer (discovery, keys, userinfo,
introspection), run only in the token thread pool
(L{occid.server.tokens}): plain urllib with a timeout, a size cap on the
answer, JSON in and out; never the token in an error message.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

__all__ = ["IssuerRefused", "get_json"]

#: The largest answer read from an issuer, in bytes.
MAX_ANSWER = 1 << 20


class IssuerRefused(Exception):
    """The issuer answered a call with an HTTP error C{status} (401 for a refused token)."""

    def __init__(self, url: str, status: int):
        super().__init__(f"{url} answered {status}")
        self.url = url
        self.status = status


def get_json(url: str, timeout: float, bearer: str | None = None,
             form: dict[str, str] | None = None,
             client: tuple[str, str] | None = None) -> Any:
    """
    The JSON C{url} answers: a GET, or with C{form} a POST of it
    (introspection); C{bearer} is sent as C{Authorization: Bearer}
    (userinfo), C{client} as HTTP Basic credentials (introspection).

    @raise IssuerRefused: the issuer answered an HTTP error.
    @raise OSError: it could not be reached in time.
    @raise ValueError: the answer is too large or not JSON.
    """
    headers = {"Accept": "application/json"}
    if bearer is not None:
        headers["Authorization"] = f"Bearer {bearer}"
    if client is not None:
        pair = f"{urllib.parse.quote(client[0])}:{urllib.parse.quote(client[1])}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            body = answer.read(MAX_ANSWER + 1)
    except urllib.error.HTTPError as error:
        raise IssuerRefused(url, error.code) from None
    if len(body) > MAX_ANSWER:
        raise ValueError(f"{url} answered more than {MAX_ANSWER} bytes")
    return json.loads(body)

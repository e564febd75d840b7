"""The Idempotency-Key checks and digests of L{occid.occi.idempotency}."""

from __future__ import annotations

import pytest

from occid.occi import idempotency
from occid.occi import infrastructure as infra
from occid.occi.errors import BadRequest
from occid.occi.model import Link, Resource

OS_TPL = infra.os_tpl_mixin("ami-0123456789abcdef0", "debian", "occi.example.org")
ZONE = infra.availability_zone_mixin("eu-west-1a", "occi.example.org")


def compute(mixins, attributes, targets=()) -> Resource:
    return Resource(kind=infra.COMPUTE, id="", mixins=list(mixins), attributes=dict(attributes),
                    links=[Link(kind=infra.NETWORKINTERFACE, id="", source="", target=t)
                           for t in targets])


@pytest.mark.parametrize("key", ["a", "x" * 255, " !~", "order 42/2026-12-05"])
def test_printable_ascii_keys_pass(key):
    assert idempotency.check_key(key) == key


@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9", "tab\there", "nl\n"])
def test_other_keys_are_400(key):
    with pytest.raises(BadRequest, match="Idempotency-Key must be 1 to 255 printable ASCII"):
        idempotency.check_key(key)


def test_client_token_is_per_owner_and_fits_ec2():
    token = idempotency.client_token("owner-a", "k")
    assert len(token) == 64 and token.isascii()
    assert token != idempotency.client_token("owner-b", "k")
    assert token != idempotency.client_token("owner-a", "k2")


def test_request_digest_ignores_order_and_id():
    one = compute([OS_TPL, ZONE], {"occi.core.title": "vm", "occi.compute.cores": 2},
                  ["/network/public", "/network/vpc-1"])
    two = compute([ZONE, OS_TPL], {"occi.compute.cores": 2, "occi.core.title": "vm",
                                   "occi.core.id": "ignored"},
                  ["/network/vpc-1", "/network/public"])
    assert idempotency.request_digest("k", one) == idempotency.request_digest("k", two)


def test_request_digest_tells_requests_and_keys_apart():
    base = compute([OS_TPL], {"occi.core.title": "vm"})
    digest = idempotency.request_digest("k", base)
    assert digest != idempotency.request_digest("k2", base)
    assert digest != idempotency.request_digest("k", compute([OS_TPL], {"occi.core.title": "vm2"}))
    assert digest != idempotency.request_digest("k", compute([OS_TPL, ZONE], {"occi.core.title": "vm"}))
    assert digest != idempotency.request_digest(
        "k", compute([OS_TPL], {"occi.core.title": "vm"}, ["/network/public"]))

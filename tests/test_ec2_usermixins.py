"""
Tests for L{occid.ec2.definitions} and L{occid.ec2.usermixins} beyond the
contract (tests/contract_usermixins.py): the SSM parameters and EC2 tags
occid writes, the cache, and what happens when SSM refuses.
"""

import json

import pytest
from botocore.exceptions import ClientError

from occid.ec2.backend import EC2Backend
from occid.ec2.definitions import PARAMETER_PATH, Definitions, decode, encode
from occid.ec2.usermixins import member_tag
from occid.occi import infrastructure as infra
from occid.occi import usermixins
from occid.occi.errors import Conflict, Forbidden
from occid.testing import make_binding
from tests.motoserver import (
    JANE,
    InlineReactor,
    SyncPool,
    failureResultOf,
    make_account,
    make_config,
    successResultOf,
)

pytestmark = pytest.mark.moto

SCHEME = "https://tags.example.org/occi#"
MIXIN = usermixins.user_mixin("analysis", SCHEME, "analysis VMs", "/mixin/user/analysis/")
BINDING = make_binding()


def test_encode_decode_round_trip():
    """A definition survives its SSM value; garbage and foreign locations are skipped."""
    definition = usermixins.Definition(MIXIN, "abc", "vo", "2026-01-01T00:00:00Z")
    assert decode(encode(definition)) == definition
    assert decode("not json") is None
    assert decode(json.dumps({"term": "x"})) is None
    assert decode(encode(usermixins.Definition(
        usermixins.user_mixin("x", SCHEME, "", "/compute/"), "a", "b"))) is None


class ClockedSSM:
    """An SSM stand-in counting reads, refusing when told."""

    def __init__(self):
        self.reads = 0
        self.refuse = False

    def get_paginator(self, name):
        assert name == "get_parameters_by_path"
        outer = self

        class Pages:
            def paginate(self, **query):
                outer.reads += 1
                if outer.refuse:
                    raise ClientError({"Error": {"Code": "AccessDeniedException"}},
                                      "GetParametersByPath")
                return [{"Parameters": []}]
        return Pages()


def test_cache_lives_for_the_ttl_and_holds_on_failure():
    """Definitions are read once per TTL; after a failure the last ones are kept for a TTL."""
    now = [0.0]
    ssm = ClockedSSM()
    definitions = Definitions("fedcloud", ssm, ttl=30, clock=lambda: now[0])
    assert not definitions.fresh
    definitions.current()
    definitions.current()
    assert ssm.reads == 1 and definitions.fresh
    now[0] = 31
    ssm.refuse = True
    with pytest.raises(Forbidden):
        definitions.current()
    definitions.hold()
    assert definitions.fresh and definitions.cached() == ()


def backend_over(moto):
    """The EC2 backend over account fedcloud on moto, inline."""
    account = make_account(make_config(moto.endpoint))
    return EC2Backend(InlineReactor(), SyncPool(), {"fedcloud": account}), account


def test_parameter_and_tags_written(moto):
    """A definition is /occid/mixins/<name>; a member carries occid:mixin:<name> = identifier."""
    backend, account = backend_over(moto)
    store = backend.mixins(JANE, BINDING)
    successResultOf(store.define(MIXIN))
    [parameter] = account.ssm.get_parameters_by_path(Path=PARAMETER_PATH)["Parameters"]
    assert parameter["Name"] == "/occid/mixins/analysis"
    assert decode(parameter["Value"]).owner == JANE.owner
    vpc = account.client.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    successResultOf(store.associate(MIXIN, [(infra.NETWORK, vpc)], False))
    [tag] = account.client.describe_tags(
        Filters=[{"Name": "key", "Values": [member_tag(MIXIN)]}])["Tags"]
    assert (tag["ResourceId"], tag["Key"], tag["Value"]) == (
        vpc, "occid:mixin:analysis", MIXIN.identifier)


def test_another_process_defined_the_location(moto):
    """A define reads SSM afresh: another process's definition is 409 despite this one's cache."""
    backend, account = backend_over(moto)
    successResultOf(backend.catalog(BINDING, JANE))  # this process caches: no user mixins
    other = EC2Backend(InlineReactor(), SyncPool(), {"fedcloud": account})
    successResultOf(other.mixins(JANE, BINDING).define(MIXIN))
    failureResultOf(backend.mixins(JANE, BINDING).define(MIXIN), Conflict)


def test_ssm_refuses_a_taken_name(moto):
    """SSM's ParameterAlreadyExists (a race between processes) is 409 naming the location."""
    _, account = backend_over(moto)
    definitions = Definitions("fedcloud", account.ssm)
    definition = usermixins.Definition(MIXIN, JANE.owner, BINDING.vo)
    definitions.put(definition)
    with pytest.raises(Conflict, match="/mixin/user/analysis/ is taken"):
        Definitions("fedcloud", account.ssm).put(definition)


def test_catalog_survives_ssm_refusing(moto):
    """When SSM refuses (no IAM permission) the catalogue loads without user mixins."""
    backend, account = backend_over(moto)

    class Refusing:
        def get_paginator(self, name):
            raise ClientError({"Error": {"Code": "AccessDeniedException"}}, "GetParametersByPath")

    account.ssm = Refusing()
    backend = EC2Backend(InlineReactor(), SyncPool(), {"fedcloud": account})
    catalog = successResultOf(backend.catalog(BINDING, JANE))
    assert usermixins.user_mixins_of(catalog.mixins) == []
    failureResultOf(backend.mixins(JANE, BINDING).define(MIXIN), Forbidden)


class CountingPool(SyncPool):
    """L{SyncPool}, counting the calls sent to it."""

    calls = 0

    def callInThreadWithCallback(self, onResult, f, *args, **kwargs):
        self.calls += 1
        super().callInThreadWithCallback(onResult, f, *args, **kwargs)


def test_no_thread_for_user_mixins_nobody_sees(moto):
    """
    A GET takes one thread (its EC2 call) while the principal sees no user
    mixin, and a second (the DescribeTags of its user mixins) once it does.
    """
    _, account = backend_over(moto)
    pool = CountingPool()
    backend = EC2Backend(InlineReactor(), pool, {"fedcloud": account})
    successResultOf(backend.catalog(BINDING, JANE))
    vpc = account.client.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    networks = backend.collection(infra.NETWORK, JANE, BINDING)
    before = pool.calls
    successResultOf(networks.get(vpc))
    assert pool.calls - before == 1
    store = backend.mixins(JANE, BINDING)
    successResultOf(store.define(MIXIN))
    successResultOf(store.associate(MIXIN, [(infra.NETWORK, vpc)], False))
    before = pool.calls
    assert MIXIN in successResultOf(backend.collection(infra.NETWORK, JANE, BINDING).get(vpc)).mixins
    assert pool.calls - before == 2

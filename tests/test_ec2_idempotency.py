# -*- test-case-name: tests.test_ec2_idempotency -*-
"""
A keyed compute create against EC2's own de-duplication of ClientToken,
which moto lacks: botocore's Stubber answers as EC2 would.  The lookup by
tag (moto's stand-in, tests/contract_idempotency.py) is bypassed by
answering it empty, as EC2 may just after a launch.
"""

from __future__ import annotations

import pytest
from botocore.stub import ANY, Stubber

from occid.ec2.launch import create_compute
from occid.ec2.planning import plan_compute
from occid.ec2.scope import Scope
from occid.ec2.tags import REQUEST_TAG, TOKEN_TAG
from occid.occi import errors, idempotency
from occid.occi import infrastructure as infra
from occid.occi.model import Resource
from tests.ec2hooks import count_calls
from tests.motoserver import DEBIAN, JANE, PUBLIC_HOST, binding

pytestmark = pytest.mark.moto

KEY = "order-42"

#: An SSH public key (ed25519).
PUBLIC_KEY = ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINLevnuHbhtYCusB8Ni7rmD4BCHPzvOIcYeM363iyjjX "
              "jane@example.org")


def keyed_launch(account, title="vm1", **attributes):
    """The plan of JANE's create of C{title} (and C{attributes}) with L{KEY}, and its scope."""
    scope = Scope(JANE, binding())
    request = Resource(kind=infra.COMPUTE, id="",
                       attributes={"occi.core.title": title, **attributes},
                       mixins=[infra.os_tpl_mixin(DEBIAN, "", PUBLIC_HOST)])
    account.groups.group_for(account.groups.default_vpc())
    return scope, plan_compute(account, scope, request, KEY)


def no_earlier_launch(stubber, launch) -> None:
    """The lookup by client token answers nothing (EC2 has not listed it yet)."""
    stubber.add_response("describe_instances", {"Reservations": []}, by_token(launch))


def by_token(launch) -> dict:
    """The parameters of the one lookup by client token, in any state."""
    return {"Filters": [{"Name": f"tag:{TOKEN_TAG}", "Values": [launch.client_token]}],
            "MaxResults": ANY}


def run_expected(launch) -> dict:
    return {"ImageId": DEBIAN, "InstanceType": "t3.micro", "MinCount": 1, "MaxCount": 1,
            "ClientToken": launch.client_token, "TagSpecifications": ANY,
            "SecurityGroupIds": ANY}


def instance(launch, request_digest=None) -> dict:
    """An instance EC2 launched for C{launch} (its request tag C{request_digest})."""
    tags = {**launch.tags, REQUEST_TAG: request_digest or launch.tags[REQUEST_TAG]}
    return {"InstanceId": "i-00000000000000001", "ImageId": DEBIAN, "InstanceType": "t3.micro",
            "State": {"Name": "pending", "Code": 0},
            "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}


def test_token_and_request_tag_derive_from_owner_and_key(account):
    """The ClientToken is the 64-digit digest of (owner, key); the request tag is set."""
    _, launch = keyed_launch(account)
    assert launch.client_token == idempotency.client_token(JANE.owner, KEY)
    assert len(launch.client_token) == 64
    assert launch.tags[TOKEN_TAG] == launch.client_token
    assert len(launch.tags[REQUEST_TAG]) == 64
    assert keyed_launch(account, "vm2")[1].tags[REQUEST_TAG] != launch.tags[REQUEST_TAG]


def test_ec2_answering_the_earlier_instance_is_the_create(account):
    """RunInstances de-duplicated by EC2 answers the earlier instance: that is the compute."""
    scope, launch = keyed_launch(account)
    stubber = Stubber(account.client)
    no_earlier_launch(stubber, launch)
    stubber.add_response("run_instances", {"ReservationId": "r-0000000000000001",
                                           "OwnerId": "123456789012",
                                           "Instances": [instance(launch)]}, run_expected(launch))
    with stubber:
        made = create_compute(account, scope, launch).entity
    assert made.id == "i-00000000000000001"
    stubber.assert_no_pending_responses()


def test_idempotent_parameter_mismatch_is_409_and_undoes_nothing(account):
    """
    EC2 refusing the token for other parameters (IdempotentParameterMismatch)
    is 409, and the earlier instance is left alone (no TerminateInstances:
    the Stubber would fail on it).
    """
    scope, launch = keyed_launch(account)
    stubber = Stubber(account.client)
    no_earlier_launch(stubber, launch)
    stubber.add_client_error("run_instances", "IdempotentParameterMismatch",
                             "The client token was used for other parameters", 400,
                             expected_params=run_expected(launch))
    with stubber, pytest.raises(errors.Conflict):
        create_compute(account, scope, launch)
    stubber.assert_no_pending_responses()


def test_earlier_launch_for_another_request_is_409_before_launching(account):
    """An instance found by the token with another request tag: 409, no RunInstances."""
    scope, launch = keyed_launch(account)
    stubber = Stubber(account.client)
    stubber.add_response("describe_instances", {"Reservations": [{
        "ReservationId": "r-0000000000000001",
        "Instances": [instance(launch, request_digest="0" * 64)]}]})
    with stubber, pytest.raises(errors.Conflict, match="i-00000000000000001"):
        create_compute(account, scope, launch)
    stubber.assert_no_pending_responses()


def test_lost_answer_of_a_keyed_create_keeps_the_instance(account):
    """
    RunInstances' answer lost (a 503, after botocore's retries): the
    instance found by the token is the create's answer, not terminated
    (the Stubber would fail on TerminateInstances), so that the client's
    retry is answered it rather than EC2's IdempotentInstanceTerminated.
    """
    scope, launch = keyed_launch(account)
    stubber = Stubber(account.client)
    no_earlier_launch(stubber, launch)
    stubber.add_client_error("run_instances", "Unavailable", "lost", 503,
                             expected_params=run_expected(launch))
    stubber.add_response("describe_instances", {"Reservations": [{
        "ReservationId": "r-0000000000000001", "Instances": [instance(launch)]}]},
        by_token(launch))
    with stubber:
        made = create_compute(account, scope, launch).entity
    assert made.id == "i-00000000000000001"
    stubber.assert_no_pending_responses()


def test_launch_key_of_a_create_in_flight_is_left_to_it(account):
    """
    Two retries in flight share the launch key pair's name: the one whose
    ImportKeyPair finds it imported already fails (409) without deleting
    the other's key pair.
    """
    scope, launch = keyed_launch(account, **{"occi.credentials.ssh.publickey": PUBLIC_KEY})
    calls = count_calls(account.client)
    stubber = Stubber(account.client)
    no_earlier_launch(stubber, launch)
    stubber.add_client_error("import_key_pair", "InvalidKeyPair.Duplicate",
                             "The keypair already exists", 400)
    with stubber, pytest.raises(errors.Conflict):
        create_compute(account, scope, launch)
    stubber.assert_no_pending_responses()
    assert calls["DeleteKeyPair"] == 0

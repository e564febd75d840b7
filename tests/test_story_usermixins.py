# -*- test-case-name: tests.test_story_usermixins -*-
"""
User-defined mixins end to end (issue 10, point 7, "Done when"): the real
daemon over TLS, curl with C{voms-proxy-fake} proxies, two VOs in two moto
accounts reached through C{role_arn} (the accounts of tests/test_story.py).
A testvo member defines a mixin, tags two computes, lists the mixin's
collection, untags one and removes the mixin; the daemon is stopped and
started between the steps and loses nothing; the othervo member never sees
the mixin, and another testvo member (owner visibility) neither.
"""

from __future__ import annotations

import json

import boto3
import pytest

from tests import gridtools
from tests.daemon import Daemon, curl, have_curl
from tests.motoserver import REGION
from tests.test_story import (  # noqa: F401  (module fixtures)
    ACCOUNTS,
    OTHERVO_ACCOUNT,
    TESTVO_ACCOUNT,
    TEXT,
    clients,
    create_compute,
    pki,
    post_text,
    proxies,
)

pytestmark = [
    *gridtools.grid_tools,
    pytest.mark.skipif(not have_curl(), reason="curl absent: apt-get install curl"),
]

SCHEME = "https://testvo.example.org/occi/tags#"
CATEGORY = f'Category: analysis; scheme="{SCHEME}"; class="mixin"'
LOCATION = "/mixin/user/analysis/"


def assumed(endpoint: str, account_id: str, service: str):
    """A boto3 client of C{service} in moto account C{account_id}, through occid's role."""
    credentials = dict(aws_access_key_id="testing", aws_secret_access_key="testing",
                       region_name=REGION, endpoint_url=endpoint)
    role = boto3.client("sts", **credentials).assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/occid", RoleSessionName="occid-tests",
    )["Credentials"]
    return boto3.client(service, region_name=REGION, endpoint_url=endpoint,
                        aws_access_key_id=role["AccessKeyId"],
                        aws_secret_access_key=role["SecretAccessKey"],
                        aws_session_token=role["SessionToken"])


@pytest.fixture(scope="module")
def daemon(pki, moto_server, clients, tmp_path_factory):  # noqa: F811
    """A daemon the test stops and starts again; stopped at the end."""
    daemon = Daemon(str(tmp_path_factory.mktemp("occid")), pki, moto_server.endpoint,
                    accounts=ACCOUNTS)
    daemon.start()
    yield daemon
    daemon.stop()


def restart(daemon: Daemon) -> None:
    """Stop occid cleanly and start it again on the same configuration."""
    assert daemon.stop()
    daemon.start()


def members(daemon, proxy) -> set[str]:
    """The entity paths the mixin's collection lists (text/uri-list)."""
    result = curl(daemon, proxy, LOCATION, "-H", "Accept: text/uri-list")
    assert result.status == 200, result.body
    return {url[len(daemon.url):] for url in result.body.split()}


def test_user_mixin_story(daemon, proxies, clients, moto_server):  # noqa: F811
    """Define, tag two, list, untag, remove; over restarts; other VOs never see it."""
    alice, bob, dave = proxies["alice"], proxies["bob"], proxies["dave"]

    # Define (text/plain).
    defined = post_text(daemon, alice, "/-/", f'{CATEGORY}; title="analysis VMs"; '
                                             f'location="{LOCATION}"')
    assert defined.status == 201, defined.body
    assert defined.header("Location") == daemon.url + LOCATION
    ssm = assumed(moto_server.endpoint, TESTVO_ACCOUNT, "ssm")
    [parameter] = ssm.get_parameters_by_path(Path="/occid/mixins/")["Parameters"]
    assert parameter["Name"] == "/occid/mixins/analysis"
    assert json.loads(parameter["Value"])["scheme"] == SCHEME

    one = create_compute(daemon, alice, "mixin-one")
    two = create_compute(daemon, alice, "mixin-two")
    restart(daemon)

    # Tag two computes: one by a uri-list, one by an X-OCCI-Location line.
    tagged = curl(daemon, alice, LOCATION, "-X", "POST", "-H", "Content-Type: text/uri-list",
                  "--data-binary", f"{daemon.url}{one}\n")
    assert tagged.status == 200, tagged.body
    tagged = post_text(daemon, alice, LOCATION, f"X-OCCI-Location: {daemon.url}{two}")
    assert tagged.status == 200, tagged.body
    assert members(daemon, alice) == {one, two}
    restart(daemon)

    # After a restart: the QI, the collection and the entity still show it.
    model = curl(daemon, alice, "/-/", *TEXT)
    [line] = [line for line in model.body.splitlines() if line.startswith(CATEGORY)]
    assert 'title="analysis VMs"' in line and f'{LOCATION}"' in line
    assert members(daemon, alice) == {one, two}
    assert CATEGORY in curl(daemon, alice, one, *TEXT).body
    ec2 = clients["testvo"]
    tags = ec2.describe_tags(Filters=[{"Name": "key", "Values": ["occid:mixin:analysis"]}])
    assert {t["ResourceId"] for t in tags["Tags"]} == {one.rsplit("/", 1)[1], two.rsplit("/", 1)[1]}

    # Another VO, in another account, never sees it; nor does another member
    # of testvo (visibility "owner").
    for other in (dave, bob):
        assert "analysis" not in curl(daemon, other, "/-/", *TEXT).body
        assert curl(daemon, other, LOCATION, *TEXT).status == 404
    other_ssm = assumed(moto_server.endpoint, OTHERVO_ACCOUNT, "ssm")
    assert other_ssm.get_parameters_by_path(Path="/occid/mixins/")["Parameters"] == []
    # A testvo member cannot take the name; the other account's is its own.
    assert post_text(daemon, bob, "/-/", CATEGORY).status == 409
    theirs = post_text(daemon, dave, "/-/", CATEGORY)
    assert theirs.status == 201, theirs.body

    # Untag one (DELETE with a location), restart, the other stays.
    untagged = curl(daemon, alice, LOCATION, "-X", "DELETE", "-H", "Content-Type: text/plain",
                    "--data-binary", f"X-OCCI-Location: {daemon.url}{one}")
    assert untagged.status == 200, untagged.body
    restart(daemon)
    assert members(daemon, alice) == {two}
    assert CATEGORY not in curl(daemon, alice, one, *TEXT).body

    # Remove the definition (DELETE /-/): gone, with its memberships, for good.
    removed = curl(daemon, alice, "/-/", "-X", "DELETE", "-H", "Content-Type: text/plain",
                   "--data-binary", CATEGORY)
    assert removed.status == 200, removed.body
    restart(daemon)
    assert "analysis" not in curl(daemon, alice, "/-/", *TEXT).body
    assert curl(daemon, alice, LOCATION, *TEXT).status == 404
    assert CATEGORY not in curl(daemon, alice, two, *TEXT).body
    assert ssm.get_parameters_by_path(Path="/occid/mixins/")["Parameters"] == []
    tags = ec2.describe_tags(Filters=[{"Name": "key", "Values": ["occid:mixin:analysis"]}])
    assert tags["Tags"] == []
    assert "analysis" in curl(daemon, dave, "/-/", *TEXT).body

    for compute in (one, two):
        assert curl(daemon, alice, compute, "-X", "DELETE").status == 200

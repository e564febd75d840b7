"""
Tests for L{occid.ec2.sharedcatalog}: the leader of a host reads the
catalogue from EC2 (moto) and writes its snapshot; another process builds
the same templates from it without calling EC2, and only when it changed;
a process finding no snapshot reads EC2 itself.
"""

from __future__ import annotations

import json
import os

import pytest

from occid.ec2.catalog import AccountCatalog
from occid.ec2.clients import build_clients
from occid.ec2.sharedcatalog import SharedCatalogue
from tests.ec2hooks import count_calls
from tests.motoserver import DEBIAN, PUBLIC_HOST, REGION, make_config

pytestmark = pytest.mark.moto


def process(moto, directory, leading: bool):
    """One process's catalogue of fedcloud, shared in C{directory}, and its EC2 call counter."""
    config = make_config(moto.endpoint)
    client = build_clients(config)["fedcloud"]
    catalog = AccountCatalog("fedcloud", client, config.aws, config.images, PUBLIC_HOST)
    return SharedCatalogue(str(directory), REGION, catalog, lambda: leading), catalog, \
        count_calls(client)


def test_followers_build_the_leaders_templates_without_ec2(moto, tmp_path):
    """
    The leader's refresh calls EC2 and writes the snapshot atomically; a
    follower's builds the same catalogue from it with no EC2 call, and
    looks again only when the file changed.
    """
    leader, leader_catalog, leader_calls = process(moto, tmp_path, leading=True)
    follower, follower_catalog, follower_calls = process(moto, tmp_path, leading=False)
    leader.refresh()
    assert sum(leader_calls.values()) > 0
    assert os.listdir(tmp_path) == [f"catalogue-fedcloud-{REGION}.json"]
    with open(leader.path, encoding="utf-8") as f:
        assert DEBIAN in {image["ImageId"] for image in json.load(f)["images"]}

    follower.refresh()
    assert sum(follower_calls.values()) == 0
    assert follower_catalog.catalog.version == leader_catalog.catalog.version
    assert follower_catalog.templates.zones == leader_catalog.templates.zones
    assert follower_catalog.age() < 60
    assert follower.refresh_distributed() is False

    # A new snapshot (a later read) is adopted at the next look.
    os.utime(leader.path, ns=(1, os.stat(leader.path).st_mtime_ns + 1_000_000_000))
    assert follower.refresh_distributed() is True
    assert sum(follower_calls.values()) == 0


def test_a_follower_without_a_snapshot_reads_ec2(moto, tmp_path):
    """Before any leader wrote one, a follower loads its templates from EC2 itself, once."""
    follower, catalog, calls = process(moto, tmp_path, leading=False)
    follower.refresh()
    assert catalog.loaded and sum(calls.values()) > 0
    calls.clear()
    follower.refresh()
    assert sum(calls.values()) == 0
    assert os.listdir(tmp_path) == []

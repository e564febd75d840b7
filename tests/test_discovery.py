"""
Tests for L{occid.discovery.facts}, without the discovery tool: which VOs
get a share and from which accounts, how limits become quotas, and what an
image, an instance type and the endpoint publish.  The whole command, over
moto, is in C{tests/test_discovery_cip.py}.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from occid.accountconfig import Limits
from occid.config import AccountConfig, IssuerConfig, OidcConfig
from occid.demo import pki
from occid.discovery.facts import (
    Authentication,
    authentications,
    endpoint_facts,
    image_facts,
    quotas,
    type_facts,
    vo_accounts,
)
from occid.ec2.vocabulary import RESOURCE_TPL_SCHEME
from tests.motoserver import PUBLIC_HOST, make_config


def test_one_vo_of_several_patterns_and_accounts():
    """
    The group patterns of one VO make one entry; a VO served by two
    accounts lists both, in file order; robots (dns only) make none.
    """
    config = make_config(accounts=(
        AccountConfig(name="a", fqans=("/alpha/g1", "/alpha/g2/Role=r", "/beta")),
        AccountConfig(name="b", fqans=("/alpha/g3",)),
        AccountConfig(name="robots", dns=("/DC=org/CN=robot",)),
    ))
    assert vo_accounts(config) == {"alpha": ("a", "b"), "beta": ("a",)}


def test_quotas_are_the_limits_every_account_sets_summed():
    """A limit one account leaves unset is no quota of the share."""
    assert quotas([Limits(max_instances=2, max_vcpus=8), Limits(max_instances=3)]) == {
        "instances": 5}
    assert quotas([Limits(user_max_volume_gib=10)]) == {"user_volume_gib": 10}
    assert quotas([Limits()]) == {}


def test_image_facts_from_tags_and_platform():
    """
    An image's OS comes from its os_distro and os_version tags, else EC2's
    platform; the appliance tags it carries are kept, its other tags not.
    """
    image = {"ImageId": "ami-0123456789abcdef0", "Name": "ubuntu", "Architecture": "arm64",
             "PlatformDetails": "Linux/UNIX", "Description": "Ubuntu",
             "Tags": [{"Key": "os_distro", "Value": "ubuntu"},
                      {"Key": "os_version", "Value": "24.04"},
                      {"Key": "vmcatcher_event_ad_mpuri", "Value": "https://appdb.example/x:1/"},
                      {"Key": "Name", "Value": "not published"}]}
    facts = image_facts(image, PUBLIC_HOST, "eu-central-1", "eu-central-1")
    assert facts.id == f"http://occi.{PUBLIC_HOST}/occi/infrastructure/os_tpl#ami-0123456789abcdef0"
    assert (facts.title, facts.region) == ("ubuntu (eu-central-1)", "eu-central-1")
    assert (facts.os_name, facts.os_version, facts.architecture) == ("ubuntu", "24.04", "arm64")
    assert dict(facts.appliance) == {"vmcatcher_event_ad_mpuri": "https://appdb.example/x:1/"}
    assert facts.marketplace_url == "https://appdb.example/x:1/"

    bare = image_facts({"ImageId": "ami-0123456789abcdef1", "Platform": "windows"},
                       PUBLIC_HOST, "eu-west-1", "")
    assert (bare.title, bare.os_name, bare.os_version) == ("ami-0123456789abcdef1", "windows", None)
    assert bare.marketplace_url is None and bare.description is None


def test_type_facts():
    """An instance type publishes its vCPUs, MiB, instance storage and network performance."""
    info = {"InstanceType": "m5d.large", "VCpuInfo": {"DefaultVCpus": 2},
            "MemoryInfo": {"SizeInMiB": 8192}, "InstanceStorageInfo": {"TotalSizeInGB": 75},
            "NetworkInfo": {"NetworkPerformance": "Up to 10 Gigabit"},
            "ProcessorInfo": {"SupportedArchitectures": ["x86_64"]}}
    facts = type_facts(info, ("eu-west-1",))
    assert facts.id == RESOURCE_TPL_SCHEME + "m5d_large"
    assert (facts.name, facts.cpu, facts.ram, facts.disk) == ("m5d.large", 2, 8192, 75)
    assert (facts.network, facts.architecture, facts.regions) == (
        "Up to 10 Gigabit", "x86_64", ("eu-west-1",))
    ebs_only = type_facts({**info, "InstanceStorageInfo": {}, "NetworkInfo": {}}, ())
    assert (ebs_only.disk, ebs_only.network) == (0, None)


def test_endpoint_facts():
    """
    The endpoint is the public URL without its slash, both OCCI versions,
    X509-VOMS, and the host certificate's issuer and subject in slash form.
    """
    now = datetime.now(UTC)
    ca = pki.issue_ca("/DC=org/CN=Host CA", pki.new_key(), not_before=now, not_after=now + timedelta(days=1))
    host = pki.issue_end_entity("/DC=org/CN=occi.test", pki.new_key(), ca, not_before=now,
                                not_after=now + timedelta(days=1))
    config = make_config()
    config = replace(config, server=replace(config.server, public_url="https://occi.test:11443/"))
    facts = endpoint_facts(config, host.certificate)
    assert facts.url == "https://occi.test:11443"
    assert facts.versions == ("1.1", "1.2")
    assert facts.authentications == authentications(config) == (Authentication("X509-VOMS"),)
    assert (facts.issuer, facts.subject) == ("/DC=org/CN=Host CA", "/DC=org/CN=occi.test")


def test_token_login_is_published_with_its_issuers():
    """With [oidc] issuers, OIDC is published beside X509-VOMS, naming them."""
    config = make_config()
    issuers = (IssuerConfig(url="https://aai.egi.eu/auth/realms/egi"),
               IssuerConfig(url="https://issuer.example.org"))
    config = replace(config, oidc=OidcConfig(issuers=issuers))
    assert authentications(config) == (
        Authentication("X509-VOMS"),
        Authentication("OIDC", ("https://aai.egi.eu/auth/realms/egi", "https://issuer.example.org")))

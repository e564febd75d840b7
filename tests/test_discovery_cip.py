# -*- test-case-name: tests.test_discovery_cip -*-
"""
occid's provider inside EGI's cloud-info-provider (the C{occid[discovery]}
extra, from PyPI): the tool's own command, C{--middleware occid --format
glue21json}, over two accounts (each through its role) and two regions of
a moto server, with GOCDB answered by a loopback stub (L{tests.gocdb}).
Its output is loaded back into the tool's GLUE model.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from cloud_info_provider import core, glue
from cloud_info_provider.formatters.glue import GLUE21Json

from occid.config import AccountConfig
from occid.demo import pki
from occid.demo.credentials import VO, DemoFiles
from occid.demo.pki import free_port
from occid.demo.preparation import INSTANCE_TYPES, SECOND_REGION, demo_images
from occid.discovery.provider import OCCI_SERVICE_TYPE
from occid.ec2.clients import make_client
from occid.ec2.vocabulary import RESOURCE_TPL_SCHEME
from occid.occi.infrastructure import os_tpl_mixin
from tests.gocdb import GOCDB_ID, GocdbStub
from tests.motoserver import ALMA, DEBIAN, PUBLIC_HOST, REGION, UBUNTU, make_config
from tests.test_demo import RunningDemo

pytestmark = pytest.mark.moto

OTHER = "eu-central-1"
URL = f"https://{PUBLIC_HOST}:11443"
SITE = "TEST-AWS"
ALPHA, BETA = "alpha.example.org", "beta.example.org"

#: The GLUE class of each top-level key of the tool's JSON.
CLASSES = {cls.__name__: cls for cls in (
    glue.CloudComputingService, glue.CloudComputingManager, glue.CloudComputingEndpoint,
    glue.CloudComputingImage, glue.CloudComputingInstanceType, glue.Share,
    glue.MappingPolicy, glue.AccessPolicy)}


def os_tpl(ami: str) -> str:
    """The published id of image C{ami}: its os_tpl mixin's."""
    return os_tpl_mixin(ami, ami, PUBLIC_HOST).identifier


def write_host_certificate(directory) -> str:
    """A host certificate for the test host from a throwaway CA; its path."""
    now = datetime.now(UTC)
    ca = pki.issue_ca("/DC=test/CN=Test Host CA", pki.new_key(), not_before=now - timedelta(hours=1),
                      not_after=now + timedelta(days=1))
    host = pki.issue_end_entity(f"/DC=test/CN={PUBLIC_HOST}", pki.new_key(), ca,
                                not_before=now - timedelta(hours=1), not_after=now + timedelta(days=1))
    path = str(directory / "hostcert.pem")
    host.write_pair(path, str(directory / "hostkey.pem"))
    return path


def config_toml(moto, host_cert: str, ami: str = DEBIAN) -> str:
    """
    Account a serves VO alpha by two group patterns, in both regions, its
    own C{ami} listed beside a public one; account b serves VO beta in the
    home region only, with other images and instance types.
    """
    return f"""
[server]
public_url = "{URL}"
host_cert = "{host_cert}"
host_key = "{host_cert}.key"

[aws]
regions = ["{REGION}", "{OTHER}"]
endpoint_url = "{moto.endpoint}"
instance_types = ["t3.micro", "t3.small"]

[images]
list = ["{DEBIAN}"]

[[accounts]]
name = "a"
fqans = ["/{ALPHA}/group1", "/{ALPHA}/group2"]
role_arn = "arn:aws:iam::111111111111:role/occid"
max_instances = 5
max_vcpus = 20

[accounts.images]
list = ["{DEBIAN}", "{ami}"]

[accounts.images.regions.{OTHER}]
list = ["{ALMA}"]

[[accounts]]
name = "b"
fqans = ["/{BETA}"]
role_arn = "arn:aws:iam::222222222222:role/occid"
regions = ["{REGION}"]
instance_types = ["m5.large"]
default_instance_type = "m5.large"

[accounts.images]
list = ["{UBUNTU}"]
"""


def own_image(moto) -> str:
    """An AMI of account a alone, in the home region, made from an appliance (its tags say so)."""
    config = make_config(moto.endpoint, accounts=(AccountConfig(
        name="a", fqans=(f"/{ALPHA}",), role_arn="arn:aws:iam::111111111111:role/occid"),))
    client = make_client(config.aws, config.account("a"))
    ami = client.copy_image(Name="appliance-ubuntu", SourceImageId=UBUNTU,
                            SourceRegion=REGION)["ImageId"]
    client.create_tags(Resources=[ami], Tags=[
        {"Key": "eu.egi.cloud.image_ref", "Value": "egi_vm_images/ubuntu:22.04"},
        {"Key": "eu.egi.cloud.tag", "Value": "2025-09-04"},
        {"Key": "os_distro", "Value": "ubuntu"}, {"Key": "os_version", "Value": "22.04"}])
    return ami


def run_tool(arguments: list[str], environment: dict[str, str]) -> subprocess.CompletedProcess:
    """C{cloud-info-provider-service} of this virtualenv with C{arguments}."""
    command = os.path.join(os.path.dirname(sys.executable), "cloud-info-provider-service")
    return subprocess.run([command, *arguments], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **environment}, check=False)


def field_names(method) -> dict[str, str]:
    """
    The JSON name -> model field mapping of one of the formatter's
    C{dump_glue_*} methods, read from the formatter itself.
    """
    class Names:
        def __getattr__(self, name):
            return name

    return method(Names())


def load_back(document: dict) -> dict[str, list]:
    """
    The tool's GLUE objects rebuilt from its JSON (the model validates every
    value), by class name.
    """
    formatter = GLUE21Json()
    common = field_names(lambda o: formatter.dump_glue_fields(
        o, {"ID": "id", "Validity": "validity", "CreationTime": "creation_time", "Name": "name"}))
    specific = {
        glue.CloudComputingService: formatter.dump_glue_service,
        glue.CloudComputingManager: formatter.dump_glue_manager,
        glue.CloudComputingEndpoint: formatter.dump_glue_endpoint,
        glue.CloudComputingImage: formatter.dump_glue_image,
        glue.CloudComputingInstanceType: formatter.dump_glue_instance_type,
        glue.Share: formatter.dump_glue_share,
        glue.MappingPolicy: formatter.dump_glue_policy,
        glue.AccessPolicy: formatter.dump_glue_policy,
    }
    loaded = {}
    for class_name, objects in document.items():
        cls = CLASSES[class_name]
        names = {**common, **field_names(specific[cls])}
        loaded[class_name] = []
        for obj in objects:
            values = {names[key]: value for key, value in obj.items()
                      if key not in ("OtherInfo", "Associations")}
            loaded[class_name].append(cls(**values, other_info=obj.get("OtherInfo", {}),
                                          associations=obj.get("Associations", {})))
    return loaded


@pytest.fixture
def gocdb(tmp_path):
    """The GOCDB stub, knowing the test endpoint."""
    stub = GocdbStub(str(tmp_path), URL, SITE, OCCI_SERVICE_TYPE)
    yield stub
    stub.stop()


@pytest.fixture
def published(moto, tmp_path, gocdb):
    """The tool's glue21json output for the occid provider, parsed; and the own AMI of account a."""
    host_cert = write_host_certificate(tmp_path)
    ami = own_image(moto)
    config = tmp_path / "occid.toml"
    config.write_text(config_toml(moto, host_cert, ami))
    site = tmp_path / "site.yaml"
    site.write_text(f"gocdb: {SITE}\nendpoint: {URL}/\nvos: []\n")
    result = run_tool(["--middleware", "occid", "--format", "glue21json",
                       "--occid-config", str(config), str(site)], gocdb.environment)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), ami


def by_id(objects: list[dict]) -> dict[str, dict]:
    return {obj["ID"]: obj for obj in objects}


def offered_to(document: dict, share_id: str, class_name: str) -> set[str]:
    """The ids of the objects of C{class_name} associated with share C{share_id}."""
    return {obj["ID"] for obj in document.get(class_name, [])
            if share_id in obj["Associations"]["Share"]}


def test_one_share_per_vo_with_exactly_its_offer(published):
    """
    VO alpha (two group patterns of account a) gets one share with a's
    listed and own images in the home region and its listed image in the
    other, and the global instance types in both regions; VO beta gets
    account b's image and instance type only.  No image or type of one
    account is in the other's share.
    """
    document, ami = published
    shares = by_id(document["Share"])
    service = f"{URL}_cloud.compute"
    alpha, beta = f"{service}_share_{ALPHA}", f"{service}_share_{BETA}"
    assert sorted(shares) == sorted([alpha, beta])

    assert offered_to(document, alpha, "CloudComputingImage") == {
        os_tpl(DEBIAN), os_tpl(ami), os_tpl(ALMA)}
    assert offered_to(document, beta, "CloudComputingImage") == {os_tpl(UBUNTU)}
    assert offered_to(document, alpha, "CloudComputingInstanceType") == {
        RESOURCE_TPL_SCHEME + "t3_micro", RESOURCE_TPL_SCHEME + "t3_small"}
    assert offered_to(document, beta, "CloudComputingInstanceType") == {
        RESOURCE_TPL_SCHEME + "m5_large"}

    types = {(t["ID"], tuple(t["OtherInfo"]["regions"])): t
             for t in document["CloudComputingInstanceType"]}
    micro = types[RESOURCE_TPL_SCHEME + "t3_micro", (REGION, OTHER)]
    assert (micro["Name"], micro["CPU"], micro["RAM"], micro["Disk"]) == ("t3.micro", 2, 1024, 0)
    assert micro["Platform"] == "x86_64" and micro["NetworkInfo"]
    assert (RESOURCE_TPL_SCHEME + "m5_large", (REGION,)) in types

    assert shares[alpha]["MaxVM"] == 5 and shares[alpha]["ProjectID"] == "a"
    assert shares[alpha]["OtherInfo"]["quotas"] == {"instances": 5, "cores": 20}
    assert "MaxVM" not in shares[beta] and shares[beta]["OtherInfo"]["quotas"] == {}
    policies = {p["ID"]: p for p in document["MappingPolicy"]}
    assert policies[f"{alpha}_Policy"]["Rule"] == [f"VO:{ALPHA}"]


def test_images_carry_their_region_os_and_appliance(published):
    """
    Each image names its AMI, title, OS, architecture and region; the one
    made from an appliance carries its reference tags.
    """
    document, ami = published
    images = by_id(document["CloudComputingImage"])
    own = images[os_tpl(ami)]
    assert own["Name"] == f"appliance-ubuntu ({REGION})"
    assert (own["OSName"], own["OSVersion"], own["OSPlatform"]) == ("ubuntu", "22.04", "x86_64")
    assert own["OtherInfo"] == {"ami": ami, "region": REGION,
                                "eu.egi.cloud.image_ref": "egi_vm_images/ubuntu:22.04",
                                "eu.egi.cloud.tag": "2025-09-04"}
    alma = images[os_tpl(ALMA)]
    assert alma["OtherInfo"] == {"ami": ALMA, "region": OTHER}
    assert alma["Name"].endswith(f"({OTHER})") and alma["OSPlatform"]


def test_endpoints_and_service(published, gocdb):
    """
    One endpoint per OCCI version (1.1, 1.2) with X509-VOMS, at the public
    URL, issued by the host certificate's CA, with no health claimed; the
    service carries the GOCDB id the stub gave, asked once, through the
    stub alone.
    """
    document, _ = published
    endpoints = by_id(document["CloudComputingEndpoint"])
    assert sorted(endpoints) == [f"{URL}_OCCI_1.1_X509-VOMS", f"{URL}_OCCI_1.2_X509-VOMS"]
    assert {e["Authentication"] for e in endpoints.values()} == {"X509-VOMS"}
    for endpoint in endpoints.values():
        assert endpoint["URL"] == URL
        assert endpoint["InterfaceName"] == OCCI_SERVICE_TYPE
        assert endpoint["IssuerCA"] == "/DC=test/CN=Test Host CA"
        assert endpoint["OtherInfo"]["HostDN"] == f"/DC=test/CN={PUBLIC_HOST}"
        assert endpoint["HealthState"] == "unknown"
        assert endpoint["ImplementationName"] == "occid"
    [service] = document["CloudComputingService"]
    assert service["OtherInfo"] == {"gocdb_id": GOCDB_ID, "site_name": SITE}
    assert service["Complexity"] == "endpointType=2,share=2"
    assert [policy["Rule"] for policy in document["AccessPolicy"]] == [
        [f"VO:{ALPHA}", f"VO:{BETA}"]] * 2
    assert len(gocdb.requests) == 1 and "service_type=eu.egi.cloud.vm-management.occi" in gocdb.requests[0]
    assert gocdb.refused == []


def test_output_loads_back_into_the_tool_model(published):
    """
    Every object of the JSON is a valid object of the tool's GLUE model,
    and formatting the loaded objects again gives the same JSON.
    """
    document, _ = published
    loaded = load_back(document)
    assert json.loads(GLUE21Json().format(None, loaded)) == document


def test_site_vos_select_the_shares(moto, tmp_path, gocdb):
    """A site YAML naming VOs publishes only theirs."""
    host_cert = write_host_certificate(tmp_path)
    config = tmp_path / "occid.toml"
    config.write_text(config_toml(moto, host_cert))
    site = tmp_path / "site.yaml"
    site.write_text(f"gocdb: {SITE}\nendpoint: {URL}\nvos:\n  - name: {BETA}\n")
    result = run_tool(["--middleware", "occid", "--occid-config", str(config), str(site)],
                      gocdb.environment)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert [share["ID"] for share in document["Share"]] == [f"{URL}_cloud.compute_share_{BETA}"]


def test_an_endpoint_not_occids_is_refused(moto, tmp_path, gocdb):
    """A site YAML whose endpoint is not [server] public_url stops the command, naming both."""
    host_cert = write_host_certificate(tmp_path)
    config = tmp_path / "occid.toml"
    config.write_text(config_toml(moto, host_cert))
    site = tmp_path / "site.yaml"
    site.write_text(f"gocdb: {SITE}\nendpoint: https://elsewhere.example.org\nvos: []\n")
    result = run_tool(["--middleware", "occid", "--occid-config", str(config), str(site)],
                      gocdb.environment)
    assert result.returncode != 0
    assert "https://elsewhere.example.org" in result.stderr and URL in result.stderr


def test_the_tool_lists_occid_and_keeps_its_own_options():
    """
    Beside the always installed OpenStack provider, occid is a middleware
    choice and adds only its prefixed option: the parser still takes one
    site YAML positional.
    """
    providers = core.get_providers()
    assert "occid" in providers and "openstack" in providers
    parser = core.get_parser(providers, core.get_formatters(), core.get_publishers())
    options = parser.parse_args(["--middleware", "occid", "--occid-config", "x.toml", "site.yaml"])
    assert (options.middleware, options.occid_config, options.site_config) == (
        "occid", "x.toml", "site.yaml")



def demo_environment(files: DemoFiles) -> dict[str, str]:
    """The AWS settings the demo gives itself: fake credentials, no files of the user's."""
    return {"AWS_ACCESS_KEY_ID": "demo", "AWS_SECRET_ACCESS_KEY": "demo",
            "AWS_CONFIG_FILE": files.aws_config, "AWS_SHARED_CREDENTIALS_FILE": files.aws_credentials}


def test_the_command_against_the_demo(tmp_path):
    """
    The README's command, run against a running demo's emulator with its
    occid.toml, GOCDB answered by the stub, prints the demo's endpoint, its
    VO's share, the images offered in each of its two regions and its
    instance types.
    """
    directory = str(tmp_path / "occid-demo")
    running = RunningDemo(directory, free_port())
    try:
        running.instructions()
        files = DemoFiles(directory)
        url = re.search(r"^occid demo: (\S+)", "".join(running.lines), re.MULTILINE).group(1)
        site = tmp_path / "site.yaml"
        site.write_text(f"gocdb: OCCID-DEMO\nendpoint: {url}\nvos: []\n")
        stub = GocdbStub(str(tmp_path), url, "OCCID-DEMO", OCCI_SERVICE_TYPE)
        try:
            result = run_tool(["--middleware", "occid", "--format", "glue21json",
                               "--occid-config", files.config, str(site)],
                              {**demo_environment(files), **stub.environment})
        finally:
            stub.stop()
    finally:
        running.stop()
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert {e["URL"] for e in document["CloudComputingEndpoint"]} == {url}
    [share] = document["Share"]
    assert share["ID"] == f"{url}_cloud.compute_share_{VO}"
    images = {(i["OtherInfo"]["ami"], i["OtherInfo"]["region"]) for i in document["CloudComputingImage"]}
    assert images == {(image.id, image.region) for image in demo_images()}
    assert SECOND_REGION in {region for _, region in images}
    assert sorted(t["Name"] for t in document["CloudComputingInstanceType"]) == sorted(INSTANCE_TYPES)
    assert document["CloudComputingService"][0]["OtherInfo"]["gocdb_id"] == GOCDB_ID

"""
Tests for L{occid.imagesconfig} through L{occid.config.parse}: the
C{[images]} table with its C{[images.regions.<region>]} tables, the same
shape in an account's own table, L{occid.config.Config.images_for} and
L{occid.config.Config.template_keys} in each region, and the message each
bad table stops the daemon with.
"""

import json
import os

import pytest

from occid import config
from occid.accountconfig import TemplateKeys
from occid.imagesconfig import Distribution, ImageSource, RegionImages, serves_vo
from tests.test_config import PATHS, minimal

ACCOUNT = 'fqans = ["/fedcloud.egi.eu"]\n'

HOME, OTHER, THIRD = "ami-0123456789abcdef0", "ami-0fedcba9876543210", "ami-12345678"

AWS = '[aws]\nregions = ["eu-west-1", "eu-central-1", "us-east-2"]\n'

IMAGES = f"""
[images]
policy = "owned_and_listed"
list = ["{HOME}"]
default = "{HOME}"
[images.regions.eu-central-1]
list = ["{OTHER}", "{THIRD}"]
default = "{OTHER}"
"""

OWN = f"""
[accounts.images]
policy = "listed"
list = ["{THIRD}"]
[accounts.images.regions.us-east-2]
list = ["{OTHER}"]
default = "{OTHER}"
"""


def parse(images: str = "", account: str = "", aws: str = AWS) -> config.Config:
    """
    The minimal configuration serving three regions, with C{images} before
    it and C{account} lines at the end of its account.
    """
    text = aws + images + minimal(PATHS).replace(ACCOUNT, ACCOUNT + account)
    return config.parse(text, "/etc/occid.toml")


def test_global_table():
    """The top-level keys are the home region's; a region table gives another's."""
    loaded = parse(IMAGES)
    assert loaded.images.regions == {
        "eu-central-1": RegionImages(list=(OTHER, THIRD), default=OTHER)}
    policy = config.ImagePolicy.OWNED_AND_LISTED
    assert loaded.images_for("fedcloud") == config.ImagesConfig(
        policy=policy, list=(HOME,), default=HOME)
    assert loaded.images_for("fedcloud", "eu-west-1") == loaded.images_for("fedcloud")
    assert loaded.images_for("fedcloud", "eu-central-1") == config.ImagesConfig(
        policy=policy, list=(OTHER, THIRD), default=OTHER)
    with pytest.raises(KeyError):
        loaded.images_for("fedcloud", "ap-south-1")


def test_region_without_table():
    """A region without a table offers no listed images, and has no default."""
    images = parse(IMAGES).images_for("fedcloud", "us-east-2")
    assert (images.policy, images.list, images.default) == (
        config.ImagePolicy.OWNED_AND_LISTED, (), "")


def test_global_template_keys():
    """Each region's list and default are named after the table setting them."""
    loaded = parse(IMAGES)
    assert loaded.template_keys("fedcloud") == TemplateKeys()
    assert loaded.template_keys("fedcloud", "eu-west-1") == TemplateKeys()
    assert loaded.template_keys("fedcloud", "eu-central-1") == TemplateKeys(
        images_list="[images.regions.eu-central-1] list",
        images_default="[images.regions.eu-central-1] default")
    assert loaded.template_keys("fedcloud", "us-east-2").images_list == (
        "[images.regions.us-east-2] list")


def test_account_table():
    """An account's own table, regions included, replaces the whole of C{[images]} for it."""
    loaded = parse(IMAGES, OWN + '[[accounts]]\nname = "other"\nfqans = ["/other"]\n')
    listed = config.ImagePolicy.LISTED
    assert loaded.images_for("fedcloud") == config.ImagesConfig(policy=listed, list=(THIRD,))
    assert loaded.images_for("fedcloud", "us-east-2") == config.ImagesConfig(
        policy=listed, list=(OTHER,), default=OTHER)
    assert loaded.images_for("fedcloud", "eu-central-1") == config.ImagesConfig(
        policy=listed, list=())
    assert loaded.images_for("other", "eu-central-1").list == (OTHER, THIRD)


def test_account_template_keys():
    """An account's own table names its keys, per region, under C{accounts[i].images}."""
    loaded = parse(IMAGES, OWN)
    assert loaded.template_keys("fedcloud") == TemplateKeys(
        images_policy="accounts[0].images.policy",
        images_list="accounts[0].images.list",
        images_default="accounts[0].images.default")
    assert loaded.template_keys("fedcloud", "us-east-2") == TemplateKeys(
        images_policy="accounts[0].images.policy",
        images_list="accounts[0].images.regions.us-east-2.list",
        images_default="accounts[0].images.regions.us-east-2.default")
    with pytest.raises(KeyError):
        loaded.template_keys("fedcloud", "ap-south-1")


def test_single_region_unchanged():
    """Without regions the table is today's: no region tables, the same views."""
    loaded = parse(aws="")
    assert loaded.images.regions == {}
    assert loaded.images_for("fedcloud") == loaded.images


def test_policy_without_list():
    """Under a policy using no list, a region table may leave its list out."""
    loaded = parse('[images]\npolicy = "owned"\n[images.regions.us-east-2]\n'
                   f'default = "{OTHER}"\n')
    assert loaded.images_for("fedcloud", "us-east-2") == config.ImagesConfig(
        policy="owned", list=(), default=OTHER)


# ([images] text, account lines, expected key, expected problem)
BAD = [
    ("[images.regions.ap-south-1]\nlist = []\n", "", "[images.regions] ap-south-1",
     "'ap-south-1' is not one of [aws] regions"),
    (f'[images.regions.eu-west-1]\nlist = ["{OTHER}"]\n', "", "[images.regions] eu-west-1",
     "eu-west-1 is the home region: set its images with the top-level keys "
     "[images] list and [images] default"),
    ('[images.regions.eu-central-1]\nlist = ["debian"]\n', "",
     "[images.regions.eu-central-1] list", "'debian' is not an AMI id"),
    (f'[images.regions.eu-central-1]\nlist = ["{OTHER}"]\ndefault = "debian"\n', "",
     "[images.regions.eu-central-1] default", "'debian' is not an AMI id"),
    (f'[images.regions.eu-central-1]\ndefault = "{OTHER}"\n', "",
     "[images.regions.eu-central-1] list", "policy 'listed' needs at least one AMI id"),
    ('[images.regions.eu-central-1]\npolicy = "all"\n', "",
     "[images.regions.eu-central-1] policy", "unknown key"),
    ("[images.regions.eu-central-1]\nlist = 3\n", "",
     "[images.regions.eu-central-1] list", "must be a list of strings"),
    ("[images]\nregions = 3\n", "", "[images] regions",
     "must hold one table per region, such as [images.regions.eu-central-1]"),
    ('[images.regions]\neu-central-1 = "x"\n', "", "[images.regions] eu-central-1",
     "must be a table of list and default"),
    ("", f'[accounts.images.regions.ap-south-1]\nlist = ["{OTHER}"]',
     "accounts[0].images.regions.ap-south-1", "'ap-south-1' is not one of [aws] regions"),
    ("", f'[accounts.images.regions.eu-west-1]\nlist = ["{OTHER}"]',
     "accounts[0].images.regions.eu-west-1",
     "eu-west-1 is the home region: set its images with the top-level keys "
     "accounts[0].images.list and accounts[0].images.default"),
    ("", '[accounts.images.regions.us-east-2]\nlist = ["debian"]',
     "accounts[0].images.regions.us-east-2.list", "'debian' is not an AMI id"),
    ("", '[accounts.images.regions.us-east-2]\ndefault = "debian"',
     "accounts[0].images.regions.us-east-2.list", "needs at least one AMI id"),
    ("", f'[accounts.images.regions.us-east-2]\nlist = ["{OTHER}"]\ndefault = "x"',
     "accounts[0].images.regions.us-east-2.default", "'x' is not an AMI id"),
    ("", '[accounts.images.regions.us-east-2]\ncolour = "red"',
     "accounts[0].images.regions.us-east-2.colour", "unknown key"),
    ("", "[accounts.images]\nregions = []", "accounts[0].images.regions",
     "must hold one table per region, such as [accounts[0].images.regions.eu-central-1]"),
]


@pytest.mark.parametrize("images, account, key, problem", BAD)
def test_bad_images(images, account, key, problem):
    """Each bad table stops the daemon with one line naming the file, the key and the problem."""
    with pytest.raises(config.ConfigError) as e:
        parse(images, account + "\n")
    assert (e.value.key, e.value.path) == (key, "/etc/occid.toml")
    assert problem in e.value.problem
    assert "\n" not in str(e.value)


def test_region_tables_need_the_region_served():
    """A one-region site has no other region to give images for."""
    with pytest.raises(config.ConfigError) as e:
        parse(f'[images.regions.eu-central-1]\nlist = ["{OTHER}"]\n', aws="")
    assert (e.value.key, e.value.problem) == (
        "[images.regions] eu-central-1", "'eu-central-1' is not one of [aws] regions")


SOURCES = """
[[images.sources]]
name = "egi"
registry = "https://registry.egi.eu"
project = "egi_vm_images"
harbor = true
vos = ["fedcloud.egi.eu"]

[[images.sources]]
name = "appdb"
image_list = "https://vmcaster.appdb.egi.eu/store/vo/fedcloud.egi.eu/image.list"
endorser = "/DC=EU/DC=EGI/C=NL/O=Hosts/O=EGI.eu/CN=appdb.egi.eu"
vos = ["fedcloud.egi.eu"]
regions = ["eu-central-1"]

[images.distribution]
grace_period = 3600
max_virtual_size = 21474836480
work_dir = "/srv/occid-images"
upload_threads = 4
"""


def test_sources():
    """C{[[images.sources]]} and C{[images.distribution]} are read into the global table."""
    loaded = parse(SOURCES)
    assert loaded.images.sources == (
        ImageSource(name="egi", registry="https://registry.egi.eu", project="egi_vm_images",
                    harbor=True, vos=("fedcloud.egi.eu",)),
        ImageSource(name="appdb",
                    image_list="https://vmcaster.appdb.egi.eu/store/vo/fedcloud.egi.eu/image.list",
                    endorser="/DC=EU/DC=EGI/C=NL/O=Hosts/O=EGI.eu/CN=appdb.egi.eu",
                    vos=("fedcloud.egi.eu",), regions=("eu-central-1",)))
    assert loaded.images.sources[1].is_list and not loaded.images.sources[0].is_list
    assert loaded.images.distribution == Distribution(
        grace_period=3600.0, max_virtual_size=21474836480, work_dir="/srv/occid-images",
        upload_threads=4)


def test_no_sources():
    """Without sources nothing is imported, and the distribution settings take their defaults."""
    loaded = parse()
    assert loaded.images.sources == ()
    assert loaded.images.distribution == Distribution()
    assert loaded.images.distribution.grace_period == 86400.0


def test_serves_vo():
    """An account serves a VO when one of its FQAN patterns lies in the VO."""
    assert serves_vo(("/fedcloud.egi.eu/Role=VMManager",), "fedcloud.egi.eu")
    assert serves_vo(("/other", "/fedcloud.egi.eu"), "fedcloud.egi.eu")
    assert not serves_vo(("/fedcloud.egi.eu.other",), "fedcloud.egi.eu")


def test_sample_sources():
    """The sample file's commented sources and settings are valid once uncommented."""
    with open(os.path.join(os.path.dirname(os.path.dirname(__file__)), "etc", "occid.toml"),
              encoding="utf-8") as sample:
        lines = sample.read().splitlines()
    start = lines.index("# [[images.sources]]")
    block = []
    for line in lines[start:]:
        if not line.startswith("#"):
            break
        block.append(line[2:])
    loaded = parse("\n".join(block) + "\n")
    assert [source.name for source in loaded.images.sources] == ["egi", "appdb"]
    assert loaded.images.distribution == Distribution()


def _source(**keys):
    """A C{[[images.sources]]} table of C{keys}, a registry source serving fedcloud by default."""
    keys = {"name": "egi", "registry": "https://registry.egi.eu",
            "repository": "egi_vm_images/ubuntu", "vos": ["fedcloud.egi.eu"], **keys}
    keys = {key: value for key, value in keys.items() if value is not None}
    lines = [f"{key} = {json.dumps(value)}" for key, value in keys.items()]
    return "[[images.sources]]\n" + "\n".join(lines) + "\n"


BAD_SOURCES = [
    (_source(name=""), "name", "is required"),
    (_source() + _source(), "name", "'egi' is used twice"),
    (_source(vos=["other.vo"]), "vos", "no [[accounts]] entry serves VO 'other.vo'"),
    (_source(vos=[]), "vos", "must name at least one VO"),
    (_source(vos=["/fedcloud.egi.eu"]), "vos", "is not a VO name"),
    (_source(regions=["ap-south-1"]), "regions", "'ap-south-1' is not one of [aws] regions"),
    (_source(registry=None), "registry", "needs a registry"),
    (_source(registry="http://registry.egi.eu"), "registry", "must be an https:// URL"),
    (_source(registry="https://registry.egi.eu/v2/"), "registry", "the registry's URL alone"),
    (_source(repository=None), "repository", "set repository or project"),
    (_source(project="egi_vm_images"), "repository", "set repository or project"),
    (_source(repository="Egi/Ubuntu"), "repository", "is not an OCI repository name"),
    (_source(harbor=True), "harbor", "set project"),
    (_source(endorser="/CN=x"), "endorser", "belongs to an image_list source"),
    (_source(token_file="/etc/t"), "token_file", "belongs to an image_list source"),
    (_source(registry=None, repository=None, image_list="https://example.org/image.list",
             endorser="/CN=x", token_file="token"), "token_file", "absolute path"),
    (_source(image_list="https://example.org/image.list"), "registry", "not both"),
    (_source(registry=None, repository=None, image_list="http://example.org/image.list",
             endorser="/CN=x"), "image_list", "must be an https:// URL"),
    (_source(registry=None, repository=None, image_list="https://example.org/image.list"),
     "endorser", "is required with image_list"),
    (_source(colour="blue"), "colour", "unknown key"),
    (_source(vos="fedcloud.egi.eu"), "vos", "must be a list of strings"),
]


@pytest.mark.parametrize("sources, key, problem", BAD_SOURCES)
def test_bad_sources(sources, key, problem):
    """Each bad source stops the daemon with one line naming the file, the source's key and the problem."""
    with pytest.raises(config.ConfigError) as e:
        parse(sources)
    assert (e.value.key, e.value.path) == (f"images.sources[0].{key}", "/etc/occid.toml") or (
        e.value.key == f"images.sources[1].{key}")
    assert problem in e.value.problem


BAD_DISTRIBUTION = [
    ("grace_period = -1", "grace_period", "must be 0 or more seconds"),
    ("max_virtual_size = 1024", "max_virtual_size", "at least 1048576 bytes"),
    ("upload_threads = 0", "upload_threads", "between 1 and 64"),
    ('work_dir = "images"', "work_dir", "absolute path"),
    ("grace = 1", "grace", "unknown key"),
    ('max_virtual_size = "big"', "max_virtual_size", "must be an integer"),
]


@pytest.mark.parametrize("line, key, problem", BAD_DISTRIBUTION)
def test_bad_distribution(line, key, problem):
    """Each bad distribution setting stops the daemon naming the key."""
    with pytest.raises(config.ConfigError) as e:
        parse(f"[images.distribution]\n{line}\n")
    assert e.value.key == f"[images.distribution] {key}"
    assert problem in e.value.problem


@pytest.mark.parametrize("table", ["[[accounts.images.sources]]\nname = 'x'",
                                   "[accounts.images.distribution]\nupload_threads = 2"])
def test_account_tables_import_nothing(table):
    """Only the global table holds sources and distribution settings, not an account's."""
    with pytest.raises(config.ConfigError) as e:
        parse("", table + "\n")
    assert e.value.key.startswith("accounts[0].images.")
    assert "only the global [images] table imports appliances" in e.value.problem


def test_sources_and_list_types():
    """A source table that is not an array of tables is refused."""
    with pytest.raises(config.ConfigError) as e:
        parse("[images]\nsources = 3\n")
    assert e.value.key == "[images] sources"

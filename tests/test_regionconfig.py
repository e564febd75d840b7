"""
Tests for L{occid.regionconfig} through L{occid.config.parse}: C{[aws]
regions} (or C{region} alone), the home region and its zone, the regions an
account narrows itself to, and L{occid.config.Config.aws_for} and
L{occid.config.Config.regions_for} in each region.
"""

import os
import re

import pytest

from occid import config
from tests.test_config import PATHS, minimal

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE = os.path.join(ROOT, "etc", "occid.toml")
README = os.path.join(ROOT, "README.md")

#: The commented lines of the sample that make it serve two regions.
SAMPLE_REGION_LINES = (
    'regions = ["eu-west-1", "eu-central-1"]',
    "[images.regions.eu-central-1]",
    'list = ["ami-0fedcba9876543210"]',
    'default = "ami-0fedcba9876543210"',
    'regions = ["eu-central-1", "eu-west-1"]',
    "[accounts.images]               # this account's own [images] table",
    'policy = "listed"',
    'list = ["ami-0123456789abcdef0"]',
    'default = ""',
    "[accounts.images.regions.eu-central-1]   # and its images in another region",
    'list = ["ami-0fedcba9876543210"]',
)

ACCOUNT = 'fqans = ["/fedcloud.egi.eu"]\n'

TWO = '[aws]\nregions = ["eu-west-1", "eu-central-1"]\n'


def parse(aws: str = "", account: str = "") -> config.Config:
    """The minimal configuration with C{aws} before it and C{account} lines in its account."""
    text = aws + minimal(PATHS).replace(ACCOUNT, ACCOUNT + account)
    return config.parse(text, "/etc/occid.toml")


def test_default_region():
    """Neither region nor regions: one region, the default one, is home."""
    aws = parse().aws
    assert (aws.region, aws.regions) == ("eu-west-1", ("eu-west-1",))


def test_region_alone():
    """C{[aws] region} alone keeps meaning a one-region site."""
    aws = parse('[aws]\nregion = "us-east-2"\n').aws
    assert (aws.region, aws.regions) == ("us-east-2", ("us-east-2",))


def test_regions():
    """C{[aws] regions} are served in order; the first is home, and is C{region}."""
    aws = parse('[aws]\nregions = ["eu-central-1", "us-gov-west-1", "ap-southeast-12"]\n').aws
    assert aws.regions == ("eu-central-1", "us-gov-west-1", "ap-southeast-12")
    assert aws.region == "eu-central-1"


def test_aws_config_in_code():
    """Built in code, either of region and regions fills the other."""
    assert config.AwsConfig(region="us-east-2").regions == ("us-east-2",)
    assert config.AwsConfig(regions=("eu-central-1", "eu-west-1")).region == "eu-central-1"
    assert config.AwsConfig().regions == ("eu-west-1",)


def test_home_zone():
    """C{availability_zone} may be a zone of the home region."""
    assert parse(TWO + 'availability_zone = "eu-west-1b"\n').aws.availability_zone == "eu-west-1b"


def test_account_regions():
    """An account narrows the regions it serves; its order is kept."""
    loaded = parse(TWO, 'regions = ["eu-central-1", "eu-west-1"]\n'
                   '[[accounts]]\nname = "other"\nfqans = ["/other"]\n')
    assert loaded.account("fedcloud").regions == ("eu-central-1", "eu-west-1")
    assert loaded.regions_for("fedcloud") == ("eu-central-1", "eu-west-1")
    assert loaded.regions_for("other") == ("eu-west-1", "eu-central-1")
    assert loaded.account("other").regions == ()
    with pytest.raises(KeyError):
        loaded.regions_for("missing")


def test_aws_for_each_region():
    """
    C{aws_for} is C{[aws]} in the region asked (the home one unset), with the
    account's instance types, and the zone in the home region only.
    """
    loaded = parse(TWO + 'availability_zone = "eu-west-1b"\n',
                   'instance_types = ["m5.large"]\ndefault_instance_type = "m5.large"\n')
    home = loaded.aws_for("fedcloud")
    assert home == loaded.aws_for("fedcloud", "eu-west-1")
    assert (home.region, home.availability_zone) == ("eu-west-1", "eu-west-1b")
    other = loaded.aws_for("fedcloud", "eu-central-1")
    assert (other.region, other.availability_zone) == ("eu-central-1", "")
    assert other.regions == ("eu-west-1", "eu-central-1")
    assert (other.instance_types, other.default_instance_type) == (("m5.large",), "m5.large")
    assert loaded.aws.region == "eu-west-1"
    with pytest.raises(KeyError):
        loaded.aws_for("fedcloud", "us-east-1")


# ([aws] lines, account lines, expected key, expected problem)
BAD = [
    ('[aws]\nregion = "eu-west-1"\nregions = ["eu-west-1"]\n', "",
     "[aws] regions", "set region or regions, not both"),
    ("[aws]\nregions = []\n", "", "[aws] regions", "must name at least one region (or be left out)"),
    ('[aws]\nregions = "eu-west-1"\n', "", "[aws] regions", "must be a list of strings"),
    ('[aws]\nregions = ["eu-west-1", "mars"]\n', "", "[aws] regions",
     "'mars' is not an AWS region name"),
    ('[aws]\nregions = ["eu-west-1", "EU-WEST-2"]\n', "", "[aws] regions",
     "'EU-WEST-2' is not an AWS region name"),
    ('[aws]\nregions = ["eu-west-1", "eu-central-1", "eu-west-1"]\n', "", "[aws] regions",
     "'eu-west-1' is named twice"),
    ('[aws]\nregion = ""\n', "", "[aws] region", "'' is not an AWS region name"),
    ('[aws]\nregion = "eu-west"\n', "", "[aws] region", "'eu-west' is not an AWS region name"),
    (TWO + 'availability_zone = "eu-central-1a"\n', "", "[aws] availability_zone",
     "'eu-central-1a' is not a zone of region eu-west-1, the home region"),
    (TWO + 'availability_zone = "eu-west-1"\n', "", "[aws] availability_zone",
     "'eu-west-1' is not a zone of region eu-west-1, the home region"),
    (TWO + 'availability_zone = "eu-west-11a"\n', "", "[aws] availability_zone",
     "is not a zone of region eu-west-1"),
    (TWO + 'availability_zone = "eu-west-1B"\n', "", "[aws] availability_zone",
     "is not a zone of region eu-west-1"),
    (TWO, 'regions = ["eu-central-1", "us-east-1"]', "accounts[0].regions",
     "'us-east-1' is not one of [aws] regions"),
    ("", 'regions = ["eu-central-1"]', "accounts[0].regions",
     "'eu-central-1' is not one of [aws] regions"),
    (TWO, 'regions = ["eu-central-1", "eu-central-1"]', "accounts[0].regions",
     "'eu-central-1' is named twice"),
    (TWO, "regions = []", "accounts[0].regions", "must name at least one region (or be left out)"),
    (TWO, 'regions = "eu-central-1"', "accounts[0].regions", "must be a list of strings"),
]


@pytest.mark.parametrize("aws, account, key, problem", BAD)
def test_bad_regions(aws, account, key, problem):
    """Each bad region stops the daemon with one line naming the file, the key and the problem."""
    with pytest.raises(config.ConfigError) as e:
        parse(aws, account + "\n")
    assert (e.value.key, e.value.path) == (key, "/etc/occid.toml")
    assert problem in e.value.problem
    assert "\n" not in str(e.value)


def test_sample_with_two_regions():
    """
    The sample file, its region lines enabled and C{[aws] region} commented
    out, serves two regions with images in each, globally and for its account.
    """
    with open(SAMPLE, encoding="utf-8") as f:
        text = f.read()
    assert '\nregion = "eu-west-1"\n' in text
    text = text.replace('\nregion = "eu-west-1"\n', '\n# region = "eu-west-1"\n')
    for line in SAMPLE_REGION_LINES:
        assert f"\n# {line}\n" in text, line
        text = text.replace(f"\n# {line}\n", f"\n{line}\n", 1)
    loaded = config.parse(text, "occid.toml")
    assert loaded.aws.regions == ("eu-west-1", "eu-central-1")
    assert loaded.regions_for("fedcloud") == ("eu-central-1", "eu-west-1")
    assert loaded.images.in_region("eu-central-1", "eu-west-1").default == "ami-0fedcba9876543210"
    assert loaded.images_for("fedcloud", "eu-central-1").list == ("ami-0fedcba9876543210",)
    assert loaded.images_for("fedcloud").list == ("ami-0123456789abcdef0",)
    assert loaded.template_keys("fedcloud", "eu-central-1").images_list == (
        "accounts[0].images.regions.eu-central-1.list")


def test_readme_regions_example():
    """The README's example of two regions parses as it says, given [server] and [grid]."""
    with open(README, encoding="utf-8") as f:
        text = f.read()
    example = re.search(r"```toml\n(.*?)```", text[text.index("**Regions.**"):], re.DOTALL)
    assert example is not None
    sections = minimal(PATHS).split("[[accounts]]")[0]
    loaded = config.parse(sections + example.group(1), "occid.toml")
    assert (loaded.aws.region, loaded.regions_for("fedcloud")) == ("eu-west-1", ("eu-central-1",))
    assert loaded.images_for("fedcloud", "eu-central-1").default == "ami-0fedcba9876543210"

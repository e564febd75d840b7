"""
Tests for L{occid.accountconfig} through L{occid.config.parse}: an account's
own images and instance types, its limits, and the message each bad value
stops the daemon with.
"""

import pytest

from occid import config
from occid.accountconfig import LIMIT_KEYS, Limits, TemplateKeys
from tests.test_config import PATHS, minimal

ACCOUNT = 'fqans = ["/fedcloud.egi.eu"]\n'


def parse(extra: str) -> config.Config:
    """The minimal configuration with C{extra} lines in its account."""
    return config.parse(minimal(PATHS).replace(ACCOUNT, ACCOUNT + extra), "/etc/occid.toml")


def test_defaults():
    """An account without its own keys uses the global templates and has no limit."""
    loaded = parse("")
    account = loaded.account("fedcloud")
    assert account.limits == Limits()
    assert (account.images, account.instance_types, account.default_instance_type) == (
        None, (), "")
    assert loaded.images_for("fedcloud") == loaded.images
    assert loaded.aws_for("fedcloud") == loaded.aws


def test_own_templates():
    """images, instance_types and default_instance_type override the global ones."""
    loaded = parse('instance_types = ["m5.large", "m5.xlarge"]\n'
                   'default_instance_type = "m5.xlarge"\n'
                   '[accounts.images]\npolicy = "owned_and_listed"\n'
                   'list = ["ami-0123456789abcdef1"]\ndefault = "ami-0123456789abcdef1"\n')
    assert loaded.images_for("fedcloud") == config.ImagesConfig(
        policy=config.ImagePolicy.OWNED_AND_LISTED, list=("ami-0123456789abcdef1",),
        default="ami-0123456789abcdef1")
    aws = loaded.aws_for("fedcloud")
    assert (aws.instance_types, aws.default_instance_type) == (
        ("m5.large", "m5.xlarge"), "m5.xlarge")
    assert aws.region == loaded.aws.region


def test_own_types_keep_global_default():
    """Without its own default_instance_type, the global one applies (if offered)."""
    aws = parse('instance_types = ["t3.micro", "m5.large"]\n').aws_for("fedcloud")
    assert (aws.instance_types, aws.default_instance_type) == (
        ("t3.micro", "m5.large"), "t3.micro")


def test_template_keys_name_where_each_template_is_set():
    """Warnings about an account's templates name its own keys where it sets them."""
    assert parse("").template_keys("fedcloud") == TemplateKeys()
    own = parse('instance_types = ["m5.large"]\ndefault_instance_type = "m5.large"\n'
                '[accounts.images]\npolicy = "all"\n').template_keys("fedcloud")
    assert own == TemplateKeys(
        instance_types="accounts[0].instance_types",
        default_instance_type="accounts[0].default_instance_type",
        images_policy="accounts[0].images.policy",
        images_list="accounts[0].images.list",
        images_default="accounts[0].images.default")
    types_only = parse('instance_types = ["t3.micro", "m5.large"]\n').template_keys("fedcloud")
    assert (types_only.instance_types, types_only.default_instance_type,
            types_only.images_list) == (
        "accounts[0].instance_types", "[aws] default_instance_type", "[images] list")


def test_limits():
    """Every limit key is read; 0 is a limit (nothing may be made)."""
    text = "".join(f"{key} = {n}\n" for n, key in enumerate(LIMIT_KEYS))
    assert parse(text).account("fedcloud").limits == Limits(
        **{key: n for n, key in enumerate(LIMIT_KEYS)})


BAD = [
    ("max_instances = -1", "accounts[0].max_instances", "0 or more"),
    ("max_vcpus = 'eight'", "accounts[0].max_vcpus", "whole number"),
    ("max_volume_gib = 1.5", "accounts[0].max_volume_gib", "whole number"),
    ("user_max_instances = true", "accounts[0].user_max_instances", "whole number"),
    ("user_max_vcpus = -3", "accounts[0].user_max_vcpus", "0 or more"),
    ("user_max_volume_gib = [1]", "accounts[0].user_max_volume_gib", "whole number"),
    ("limits = 3", "accounts[0].limits", "unknown key"),
    ("images = 'all'", "accounts[0].images", "must be a table"),
    ("instance_types = []", "accounts[0].instance_types", "at least one"),
    ("instance_types = 't3.micro'", "accounts[0].instance_types", "list of strings"),
    ("instance_types = ['huge']", "accounts[0].instance_types", "not an instance type"),
    ("instance_types = ['m5.large']", "accounts[0].default_instance_type",
     "must be one of accounts[0].instance_types"),
    ("default_instance_type = 'm5.large'", "accounts[0].default_instance_type",
     "must be one of [aws] instance_types"),
    ("[accounts.images]\npolicy = 'some'", "accounts[0].images.policy", "must be one of"),
    ("[accounts.images]\ncolour = 'red'", "accounts[0].images.colour", "unknown key"),
    ("[accounts.images]\nlist = []", "accounts[0].images.list", "needs at least one AMI"),
    ("[accounts.images]\nlist = ['debian']", "accounts[0].images.list", "not an AMI id"),
    ("[accounts.images]\ndefault = 'debian'", "accounts[0].images.default", "not an AMI id"),
]


@pytest.mark.parametrize("extra, key, problem", BAD)
def test_bad_account_keys(extra, key, problem):
    """Each bad value stops the daemon with one line naming the file, the key and the problem."""
    with pytest.raises(config.ConfigError) as e:
        parse(extra + "\n")
    assert (e.value.key, e.value.path) == (key, "/etc/occid.toml")
    assert problem in e.value.problem
    assert "\n" not in str(e.value)

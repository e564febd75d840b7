"""
Tests for L{occid.config}: every key's default and type, the modes as enums,
and a table of bad configurations with the message each one stops the daemon
with.  L{occid.config.parse} is pure: the files named here do not exist.  The
checks of files and AWS profiles at start are in C{tests/test_preflight.py}.
"""

import dataclasses
import os

import pytest

from occid import config
from occid.gridconfig import GridConfig
from occid.serverconfig import ServerConfig

#: File names a configuration may give: parse never looks at them.
PATHS = {
    "cert": "/nonexistent/hostcert.pem",
    "key": "/nonexistent/hostkey.pem",
    "ca_dir": "/nonexistent/certificates",
    "vomsdir": "/nonexistent/vomsdir",
}


@pytest.fixture
def site():
    """The file names of L{minimal}: none of them exists."""
    return dict(PATHS)


def minimal(site, **sections):
    """The smallest valid configuration text, with extra sections appended."""
    text = f"""
[server]
host_cert = "{site['cert']}"
host_key = "{site['key']}"

[grid]
ca_dir = "{site['ca_dir']}"
vomsdir = "{site['vomsdir']}"

[[accounts]]
name = "fedcloud"
fqans = ["/fedcloud.egi.eu"]
"""
    for extra in sections.values():
        text += extra
    return text


def test_defaults(site):
    """Every key not set takes the default the annotated etc/occid.toml shows."""
    loaded = config.parse(minimal(site), "occid.toml")
    assert loaded.server == ServerConfig(
        listen="tcp:11443",
        public_url="https://occi.example.org:11443",
        host_cert=site["cert"],
        host_key=site["key"],
        max_body=1048576,
        request_timeout=60.0,
        header_timeout=10.0,
        idle_timeout=30.0,
        max_connections=4000,
        max_connections_per_peer=200,
    )
    assert loaded.grid == GridConfig(
        ca_dir=site["ca_dir"],
        vomsdir=site["vomsdir"],
        crl="if-valid",
        legacy_proxies=False,
        limited_proxies="read-only",
    )
    assert loaded.aws == config.AwsConfig(
        region="eu-west-1",
        endpoint_url="",
        availability_zone="",
        default_instance_type="t3.micro",
        instance_types=("t3.micro", "t3.small", "t3.medium", "t3.large"),
        ssh_cidr="0.0.0.0/0",
        network_create=False,
        network_delete=False,
        threads=10,
        timeout=10.0,
        attempts=3,
    )
    assert loaded.images == config.ImagesConfig(
        policy="listed", list=("ami-0123456789abcdef0",)
    )
    assert loaded.accounts == (
        config.AccountConfig(
            name="fedcloud",
            fqans=("/fedcloud.egi.eu",),
            profile="",
            role_arn="",
            visibility="owner",
            manager_fqans=(),
            dns=(),
        ),
    )
    assert loaded.server.public_host == "occi.example.org"


def test_every_key_set(site):
    """Every key of every section can be set and keeps its value and type."""
    text = minimal(site).replace(
        "[grid]",
        """listen = "tcp:8443:interface=127.0.0.1"
public_url = "https://occi.site.example:8443"
max_body = 2048
request_timeout = 50

[grid]
crl = "require"
legacy_proxies = true
limited_proxies = "refuse"
""",
    )
    text = text.replace(
        '[[accounts]]\nname = "fedcloud"\nfqans = ["/fedcloud.egi.eu"]\n',
        """
[aws]
region = "us-east-2"
endpoint_url = "http://127.0.0.1:5000"
availability_zone = "us-east-2b"
default_instance_type = "m5.large"
instance_types = ["m5.large"]
ssh_cidr = "192.0.2.0/24"
network_create = true
network_delete = true
network_pool = "172.16.0.0/12"
threads = 4
timeout = 7.5
attempts = 2

[images]
policy = "owned_and_listed"
list = ["ami-12345678", "ami-0123456789abcdef0"]
default = "ami-12345678"

[[accounts]]
name = "fedcloud"
fqans = ["/fedcloud.egi.eu", "/other/Role=admin"]
profile = "fedcloud"
role_arn = "arn:aws:iam::111111111111:role/occid"
visibility = "vo"
manager_fqans = ["/fedcloud.egi.eu/Role=VMManager"]
dns = ["/DC=org/DC=example/CN=robot"]

[[accounts]]
name = "second"
fqans = ["/second.vo"]
""",
    )
    loaded = config.parse(text, "occid.toml")
    assert loaded.server.listen == "tcp:8443:interface=127.0.0.1"
    assert loaded.server.public_host == "occi.site.example"
    assert loaded.server.max_body == 2048
    assert loaded.server.request_timeout == 50.0
    assert (loaded.grid.crl, loaded.grid.legacy_proxies, loaded.grid.limited_proxies) == (
        "require",
        True,
        "refuse",
    )
    assert loaded.aws == config.AwsConfig(
        region="us-east-2",
        endpoint_url="http://127.0.0.1:5000",
        availability_zone="us-east-2b",
        default_instance_type="m5.large",
        instance_types=("m5.large",),
        ssh_cidr="192.0.2.0/24",
        network_create=True,
        network_delete=True,
        network_pool="172.16.0.0/12",
        threads=4,
        timeout=7.5,
        attempts=2,
    )
    assert loaded.images.list == ("ami-12345678", "ami-0123456789abcdef0")
    assert loaded.images.default == "ami-12345678"
    assert [a.name for a in loaded.accounts] == ["fedcloud", "second"]
    first = loaded.account("fedcloud")
    assert first.profile == "fedcloud"
    assert first.role_arn == "arn:aws:iam::111111111111:role/occid"
    assert first.dns == ("/DC=org/DC=example/CN=robot",)
    assert first.visibility == "vo"
    with pytest.raises(KeyError):
        loaded.account("missing")


# (replace this, with this, expected key, expected problem fragment)
BAD = [
    ("[grid]", "[grids]\n[grid]", "[grids]", "unknown section"),
    ("[grid]", "colour = 'red'\n[grid]", "[server] colour", "unknown key"),
    ("[grid]", "max_body = '1M'\n[grid]", "[server] max_body", "must be an integer"),
    ("[grid]", "max_body = true\n[grid]", "[server] max_body", "must be an integer"),
    ("[grid]", "max_body = 10\n[grid]", "[server] max_body", "at least 1024"),
    ("[grid]", "request_timeout = 'x'\n[grid]", "[server] request_timeout", "must be a number"),
    ("[grid]", "request_timeout = 0\n[grid]", "[server] request_timeout", "must be positive"),
    ("[grid]", "header_timeout = 0\n[grid]", "[server] header_timeout", "between 0 and 3600"),
    ("[grid]", "idle_timeout = 'x'\n[grid]", "[server] idle_timeout", "must be a number"),
    ("[grid]", "max_connections = 0\n[grid]", "[server] max_connections", "at least 1"),
    ("[grid]", "max_connections = 10\nmax_connections_per_peer = 11\n[grid]",
     "[server] max_connections_per_peer", "between 1 and max_connections (10)"),
    ("[grid]", "public_url = 'http://h'\n[grid]", "[server] public_url", "https://host"),
    ("[grid]", "public_url = 'https://h/occi'\n[grid]", "[server] public_url", "no path"),
    ("[grid]", "listen = ''\n[grid]", "[server] listen", "must name an endpoint"),
    ("[grid]", "[grid]\ncrl = 'maybe'", "[grid] crl", "must be one of 'require'"),
    ("[grid]", "[grid]\nlegacy_proxies = 'yes'", "[grid] legacy_proxies", "true or false"),
    ("[grid]", "[grid]\nlimited_proxies = 'allow'", "[grid] limited_proxies", "must be one of"),
    ("[grid]", "[aws]\nregion = 'mars'\n[grid]", "[aws] region", "not an AWS region"),
    ("[grid]", "[aws]\nendpoint_url = 'ftp://x'\n[grid]", "[aws] endpoint_url", "http(s) URL"),
    (
        "[grid]",
        "[aws]\navailability_zone = 'us-east-1a'\n[grid]",
        "[aws] availability_zone",
        "not a zone of region eu-west-1",
    ),
    ("[grid]", "[aws]\ninstance_types = []\n[grid]", "[aws] instance_types", "at least one"),
    ("[grid]", "[aws]\ninstance_types = [1]\n[grid]", "[aws] instance_types", "list of strings"),
    (
        "[grid]",
        "[aws]\ninstance_types = ['T3 Micro']\n[grid]",
        "[aws] instance_types",
        "not an instance type",
    ),
    (
        "[grid]",
        "[aws]\ndefault_instance_type = 'm5.large'\n[grid]",
        "[aws] default_instance_type",
        "one of [aws] instance_types",
    ),
    ("[grid]", "[aws]\nssh_cidr = '10.0.0.0/33'\n[grid]", "[aws] ssh_cidr", "not a CIDR"),
    ("[grid]", "[aws]\nthreads = 0\n[grid]", "[aws] threads", "between 1 and 200"),
    ("[grid]", "[aws]\ntimeout = 0\n[grid]", "[aws] timeout", "between 0 and 300"),
    ("[grid]", "[aws]\nattempts = 0\n[grid]", "[aws] attempts", "between 1 and 10"),
    # One EC2 call, retries and backoff included, must end before the 504.
    ("[grid]", "[aws]\ntimeout = 20\nattempts = 4\n[grid]", "[aws] timeout",
     "[aws] attempts (4) times ([aws] timeout 20 s + connect 5 s) + backoff = 114 s must be "
     "less than [server] request_timeout (60 s)"),
    ("[grid]", "request_timeout = 30\n[grid]", "[aws] timeout",
     "+ backoff = 51 s must be less than [server] request_timeout (30 s)"),
    ("[grid]", "[aws]\nnetwork_delete = true\n[grid]", "[aws] network_delete", "needs network_create"),
    ("[grid]", "[images]\npolicy = 'listed'\nlist = []\n[grid]", "[images] list", "needs at least one AMI"),
    ("[grid]", "[images]\npolicy = 'some'\n[grid]", "[images] policy", "must be one of"),
    ("[grid]", "[images]\nlist = ['debian']\n[grid]", "[images] list", "not an AMI id"),
    ("[grid]", "[images]\ndefault = 'debian'\n[grid]", "[images] default", "not an AMI id"),
    ("[grid]", "[aws]\nnetwork_pool = '10.0.0.0/17'\n[grid]", "[aws] network_pool", "/16 or larger"),
    ("[grid]", "[aws]\nnetwork_pool = 'fd00::/8'\n[grid]", "[aws] network_pool", "IPv4"),
    ("[grid]", "[aws]\nnetwork_pool = '10.0.0.1/8'\n[grid]", "[aws] network_pool", "not a CIDR"),
    ("[grid]", "server = 1\n[grid]", "[server] server", "unknown key"),
    ('name = "fedcloud"', 'name = ""', "accounts[0].name", "is required"),
    ('fqans = ["/fedcloud.egi.eu"]', "fqans = []", "accounts[0].fqans", "needs fqans, dns or subs"),
    ('fqans = ["/fedcloud.egi.eu"]', 'fqans = ["fedcloud"]', "accounts[0].fqans", "is not a FQAN"),
    (
        'fqans = ["/fedcloud.egi.eu"]',
        'fqans = ["/fc"]\nvisibility = "all"',
        "accounts[0].visibility",
        "must be one of",
    ),
    (
        'fqans = ["/fedcloud.egi.eu"]',
        'fqans = ["/fc"]\nmanager_fqans = ["admins"]',
        "accounts[0].manager_fqans",
        "is not a FQAN",
    ),
    (
        'fqans = ["/fedcloud.egi.eu"]',
        'fqans = ["/fc"]\nrole_arn = "admin"',
        "accounts[0].role_arn",
        "not an IAM role ARN",
    ),
    ('fqans = ["/fedcloud.egi.eu"]', 'fqans = ["/fc"]\ndns = ["CN=robot"]', "accounts[0].dns", "is not a DN"),
    (
        'fqans = ["/fedcloud.egi.eu"]',
        'fqans = ["/fc"]\nprofiles = "x"',
        "accounts[0].profiles",
        "unknown key",
    ),
    (
        'fqans = ["/fedcloud.egi.eu"]',
        'fqans = ["/fc"]\n[[accounts]]\nname = "fedcloud"\nfqans = ["/x"]',
        "accounts[1].name",
        "used twice",
    ),
    (
        '[[accounts]]\nname = "fedcloud"\nfqans = ["/fedcloud.egi.eu"]',
        "",
        "[[accounts]]",
        "at least one account",
    ),
    ("[grid]", "[grid\n", "(syntax)", ""),
]


@pytest.mark.parametrize("old, new, key, problem", BAD)
def test_bad_configuration(site, old, new, key, problem):
    """Each bad configuration is refused with a message naming file and key."""
    text = minimal(site)
    assert old in text
    with pytest.raises(config.ConfigError) as e:
        config.parse(text.replace(old, new, 1), "/etc/occid/occid.toml")
    assert e.value.key == key
    assert problem in e.value.problem
    assert str(e.value).startswith(f"/etc/occid/occid.toml: {key}: ")
    assert "\n" not in str(e.value)


def test_accounts_not_tables(site):
    """C{accounts} must be an array of tables."""
    text = minimal(site).replace('[[accounts]]\nname = "fedcloud"\nfqans = ["/fedcloud.egi.eu"]', "")
    with pytest.raises(config.ConfigError) as e:
        config.parse("accounts = 3\n" + text, "occid.toml")
    assert (e.value.key, e.value.problem) == ("[[accounts]]", "must be an array of tables")


def test_host_certificate_and_key_required(site):
    """A site must name its host credentials."""
    text = minimal(site).replace(f'host_cert = "{site["cert"]}"', "")
    with pytest.raises(config.ConfigError) as e:
        config.parse(text, "occid.toml")
    assert (e.value.key, e.value.problem) == ("[server] host_cert", "is required")


def test_parse_reads_no_file(site):
    """
    Parsing names files and AWS profiles that do not exist and still
    succeeds: checking them is preflight's job, at start.
    """
    text = minimal(site).replace('fqans = ["/fedcloud.egi.eu"]', 'fqans = ["/fc"]\nprofile = "nosuch"')
    loaded = config.parse(text, "occid.toml")
    assert loaded.server.host_cert == PATHS["cert"]
    assert loaded.account("fedcloud").profile == "nosuch"


@pytest.mark.parametrize(
    "mode, values",
    [
        (config.Visibility, ["owner", "vo", "manager"]),
        (config.ImagePolicy, ["all", "owned", "listed", "owned_and_listed"]),
        (config.CrlMode, ["require", "if-valid", "off"]),
        (config.LimitedProxies, ["refuse", "read-only"]),
    ],
)
def test_mode_values(mode, values):
    """Each mode is a string enum whose values are the words of the file."""
    assert [str(member) for member in mode] == values
    assert all(member == value for member, value in zip(mode, values, strict=True))


def test_modes_parsed_as_enums(site):
    """The modes of a parsed file are enum members, not bare strings."""
    text = minimal(site).replace("[grid]", '[grid]\ncrl = "off"\nlimited_proxies = "refuse"')
    text = text.replace('fqans = ["/fedcloud.egi.eu"]', 'fqans = ["/fc"]\nvisibility = "vo"')
    text += '[images]\npolicy = "owned"\n'
    loaded = config.parse(text, "occid.toml")
    assert loaded.grid.crl is config.CrlMode.OFF
    assert loaded.grid.limited_proxies is config.LimitedProxies.REFUSE
    assert loaded.images.policy is config.ImagePolicy.OWNED
    assert loaded.accounts[0].visibility is config.Visibility.VO


def test_dataclasses_turn_strings_into_modes():
    """
    A section built in code from the file's words holds enum members too;
    a word that is no mode is refused.
    """
    assert GridConfig(crl="require").crl is config.CrlMode.REQUIRE
    assert GridConfig(limited_proxies="refuse").limited_proxies is config.LimitedProxies.REFUSE
    images = dataclasses.replace(config.ImagesConfig(), policy="all")
    assert images.policy is config.ImagePolicy.ALL
    assert config.AccountConfig(visibility="vo").visibility is config.Visibility.VO
    with pytest.raises(ValueError):
        GridConfig(crl="maybe")


def test_manager_visibility_not_in_the_file(site):
    """C{manager} is granted by manager_fqans; a file cannot set it."""
    text = minimal(site).replace('fqans = ["/fedcloud.egi.eu"]', 'fqans = ["/fc"]\nvisibility = "manager"')
    with pytest.raises(config.ConfigError) as e:
        config.parse(text, "occid.toml")
    assert e.value.problem == "must be one of 'owner', 'vo', not 'manager'"


@pytest.mark.parametrize(
    "policy, owned, listed",
    [
        ("all", False, False),
        ("owned", True, False),
        ("listed", False, True),
        ("owned_and_listed", True, True),
    ],
)
def test_image_policy_parts(policy, owned, listed):
    """Which images each policy offers: the account's own, the list's."""
    mode = config.ImagePolicy(policy)
    assert (mode.uses_owned, mode.uses_list) == (owned, listed)


def test_choice_messages(site):
    """A mode outside its enum is refused listing every value, in order."""
    with pytest.raises(config.ConfigError) as e:
        config.parse(minimal(site).replace("[grid]", "[grid]\ncrl = 'maybe'"), "occid.toml")
    assert e.value.problem == "must be one of 'require', 'if-valid', 'off', not 'maybe'"
    with pytest.raises(config.ConfigError) as e:
        config.parse(minimal(site) + "[images]\npolicy = 'some'\n", "occid.toml")
    assert e.value.problem == (
        "must be one of 'all', 'owned', 'listed', 'owned_and_listed', not 'some'"
    )


OIDC = """
[oidc]
timeout = 5

[[oidc.issuers]]
url = "https://aai.egi.eu/auth/realms/egi"
audience = "https://occi.example.org"
client_id = "occid"
client_secret = "s3cret"
"""


def test_oidc_off_by_default(site):
    """Without [oidc], no token is accepted."""
    assert not config.parse(minimal(site)).oidc.enabled


def test_oidc_issuers(site):
    """[[oidc.issuers]] are read in order, with their defaults; accounts take subs."""
    text = minimal(site, oidc=OIDC).replace(
        'fqans = ["/fedcloud.egi.eu"]',
        'fqans = ["/fedcloud.egi.eu"]\nsubs = ["https://aai.egi.eu/auth/realms/egi robot@egi.eu"]')
    loaded = config.parse(text)
    [issuer] = loaded.oidc.issuers
    assert (issuer.url, issuer.audience, issuer.client_id, issuer.entitlements_claim) == (
        "https://aai.egi.eu/auth/realms/egi", "https://occi.example.org", "occid",
        "eduperson_entitlement")
    assert issuer.introspects and loaded.oidc.timeout == 5
    assert loaded.accounts[0].subs == ("https://aai.egi.eu/auth/realms/egi robot@egi.eu",)
    assert loaded.oidc.issuer(issuer.url) is issuer and loaded.oidc.issuer("x") is None


@pytest.mark.parametrize(("old", "new", "key", "problem"), [
    ('url = "https://aai.egi.eu/auth/realms/egi"', 'url = "http://aai.egi.eu/"',
     "oidc.issuers[0].url", "must be an https URL"),
    ('url = "https://aai.egi.eu/auth/realms/egi"', 'url = "https://aai.egi.eu/#x"',
     "oidc.issuers[0].url", "without query or fragment"),
    ('client_secret = "s3cret"', "", "oidc.issuers[0].client_secret", "go together"),
    ('audience = "https://occi.example.org"', 'audiences = ["x"]',
     "oidc.issuers[0].audiences", "unknown key"),
    ("timeout = 5", "timeout = 0", "[oidc] timeout", "between 0 and 60"),
    ("timeout = 5", "refresh = 10", "[oidc] refresh", "at least 60"),
    ('client_id = "occid"', 'entitlements_claim = ""\nclient_id = "occid"',
     "oidc.issuers[0].entitlements_claim", "must name a claim"),
])
def test_bad_oidc(site, old, new, key, problem):
    """Each bad [oidc] value names the file, its key and the problem."""
    text = minimal(site, oidc=OIDC)
    assert old in text
    with pytest.raises(config.ConfigError) as e:
        config.parse(text.replace(old, new, 1), "/etc/occid/occid.toml")
    assert (e.value.path, e.value.key) == ("/etc/occid/occid.toml", key)
    assert problem in e.value.problem


def test_issuers_not_tables(site):
    """[oidc] issuers must be an array of tables."""
    with pytest.raises(config.ConfigError) as e:
        config.parse(minimal(site, oidc="[oidc]\nissuers = 3\n"))
    assert e.value.key == "[oidc] issuers" and "array of tables" in e.value.problem


def test_issuer_listed_twice(site):
    """One issuer URL twice is refused."""
    text = minimal(site, oidc=OIDC + '\n[[oidc.issuers]]\nurl = "https://aai.egi.eu/auth/realms/egi"\n')
    with pytest.raises(config.ConfigError) as e:
        config.parse(text)
    assert e.value.key == "oidc.issuers[1].url" and "twice" in e.value.problem


def test_http_issuer_on_loopback_only(site):
    """Plain HTTP is allowed for an issuer on 127.0.0.1 (tests, the demo)."""
    text = minimal(site, oidc='[[oidc.issuers]]\nurl = "http://127.0.0.1:8080"\n')
    assert config.parse(text).oidc.enabled


@pytest.mark.parametrize("subject", [
    "robot@egi.eu", "https://other.example.org robot", "https://aai.egi.eu/auth/realms/egi "])
def test_subs_need_a_configured_issuer(site, subject):
    """An account's subs entry is '<issuer> <sub>' with an issuer of [[oidc.issuers]]."""
    text = minimal(site, oidc=OIDC).replace(
        'fqans = ["/fedcloud.egi.eu"]', f'fqans = ["/fedcloud.egi.eu"]\nsubs = ["{subject}"]')
    with pytest.raises(config.ConfigError) as e:
        config.parse(text)
    assert e.value.key == "accounts[0].subs"


def test_sample_oidc_example_validates():
    """The commented [oidc] example of etc/occid.toml, uncommented, is a valid configuration."""
    with open(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                           "etc", "occid.toml"), encoding="utf-8") as f:
        text = f.read()
    example = text[text.index("\n# [oidc]\n") + 1:]
    uncommented = "\n".join(line[2:] if line.startswith("# ") else line
                            for line in example.splitlines() if line.startswith("#"))
    loaded = config.parse(text + "\n" + uncommented)
    assert [issuer.url for issuer in loaded.oidc.issuers] == ["https://aai.egi.eu/auth/realms/egi"]
    assert loaded.oidc == config.OidcConfig(issuers=loaded.oidc.issuers)

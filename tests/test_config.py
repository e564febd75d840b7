"""
Tests for L{occid.config}: every key's default and type, the sample file, and
a table of bad configurations with the message each one stops the daemon with.
"""

import os
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from occid import config

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLE = os.path.join(os.path.dirname(HERE), "etc", "occid.toml")


def _write_host_credentials(directory):
    """A self-signed host certificate and its key (P-256: fast to make)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_path = os.path.join(directory, "hostcert.pem")
    key_path = os.path.join(directory, "hostkey.pem")
    with open(cert_path, "wb") as f:
        f.write(certificate.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return cert_path, key_path


@pytest.fixture(autouse=True)
def aws_files(tmp_path, monkeypatch):
    """Shared AWS files with one profile, "fedcloud", instead of the user's own."""
    credentials = tmp_path / "aws-credentials"
    credentials.write_text("[fedcloud]\naws_access_key_id = testing\naws_secret_access_key = testing\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def site(tmp_path):
    """A directory with host credentials, a CA dir and a vomsdir."""
    cert, key = _write_host_credentials(str(tmp_path))
    (tmp_path / "certificates").mkdir()
    (tmp_path / "vomsdir").mkdir()
    return {
        "cert": cert,
        "key": key,
        "ca_dir": str(tmp_path / "certificates"),
        "vomsdir": str(tmp_path / "vomsdir"),
        "dir": tmp_path,
    }


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
    """Every key not set takes the default DESIGN.md shows."""
    loaded = config.parse(minimal(site), "occid.toml")
    assert loaded.server == config.ServerConfig(
        listen="tcp:11443",
        public_url="https://occi.example.org:11443",
        host_cert=site["cert"],
        host_key=site["key"],
        max_body=1048576,
        request_timeout=60.0,
    )
    assert loaded.grid == config.GridConfig(
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
        timeout=20.0,
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
request_timeout = 5

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
threads = 4
timeout = 7.5

[images]
policy = "owned_and_listed"
list = ["ami-12345678", "ami-0123456789abcdef0"]

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
    assert loaded.server.request_timeout == 5.0
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
        threads=4,
        timeout=7.5,
    )
    assert loaded.images.list == ("ami-12345678", "ami-0123456789abcdef0")
    assert [a.name for a in loaded.accounts] == ["fedcloud", "second"]
    first = loaded.account("fedcloud")
    assert first.profile == "fedcloud"
    assert first.role_arn == "arn:aws:iam::111111111111:role/occid"
    assert first.dns == ("/DC=org/DC=example/CN=robot",)
    assert first.visibility == "vo"
    with pytest.raises(KeyError):
        loaded.account("missing")


def test_sample_file_is_valid_apart_from_its_files(site, tmp_path):
    """
    The annotated etc/occid.toml parses; pointing its file keys at real files
    is all a site must change.
    """
    with open(SAMPLE, encoding="utf-8") as f:
        text = f.read()
    text = (
        text.replace("/etc/grid-security/occid/hostcert.pem", site["cert"])
        .replace("/etc/grid-security/occid/hostkey.pem", site["key"])
        .replace("/etc/grid-security/certificates", site["ca_dir"])
        .replace("/etc/grid-security/vomsdir", site["vomsdir"])
    )
    path = tmp_path / "occid.toml"
    path.write_text(text)
    loaded = config.load(str(path))
    assert loaded.path == str(path)
    assert loaded.accounts[0].manager_fqans == ("/fedcloud.egi.eu/Role=VMManager",)


def test_sample_file_names_its_missing_host_certificate():
    """Unchanged, the sample stops at the first file a site must provide."""
    with pytest.raises(config.ConfigError) as e:
        config.load(SAMPLE)
    assert e.value.key == "[server] host_cert"
    assert "cannot read /etc/grid-security/occid/hostcert.pem" in str(e.value)


# (replace this, with this, expected key, expected problem fragment)
BAD = [
    ("[grid]", "[grids]\n[grid]", "[grids]", "unknown section"),
    ("[grid]", "colour = 'red'\n[grid]", "[server] colour", "unknown key"),
    ("[grid]", "max_body = '1M'\n[grid]", "[server] max_body", "must be an integer"),
    ("[grid]", "max_body = true\n[grid]", "[server] max_body", "must be an integer"),
    ("[grid]", "max_body = 10\n[grid]", "[server] max_body", "at least 1024"),
    ("[grid]", "request_timeout = 'x'\n[grid]", "[server] request_timeout", "must be a number"),
    ("[grid]", "request_timeout = 0\n[grid]", "[server] request_timeout", "must be positive"),
    ("[grid]", "public_url = 'http://h'\n[grid]", "[server] public_url", "https://host"),
    ("[grid]", "public_url = 'https://h/occi'\n[grid]", "[server] public_url", "no path"),
    ("[grid]", "listen = ''\n[grid]", "[server] listen", "must name an endpoint"),
    ("[grid]", "[grid]\ncrl = 'maybe'", "[grid] crl", "must be one of 'require'"),
    ("[grid]", "[grid]\nlegacy_proxies = 'yes'", "[grid] legacy_proxies", "true or false"),
    ("[grid]", "[grid]\nlimited_proxies = 'allow'", "[grid] limited_proxies", "must be one of"),
    ("[grid]", "[aws]\nregion = 'mars'\n[grid]", "[aws] region", "not an AWS region"),
    ("[grid]", "[aws]\nendpoint_url = 'ftp://x'\n[grid]", "[aws] endpoint_url", "http(s) URL"),
    ("[grid]", "[aws]\navailability_zone = 'us-east-1a'\n[grid]", "[aws] availability_zone", "not a zone of region eu-west-1"),
    ("[grid]", "[aws]\ninstance_types = []\n[grid]", "[aws] instance_types", "at least one"),
    ("[grid]", "[aws]\ninstance_types = [1]\n[grid]", "[aws] instance_types", "list of strings"),
    ("[grid]", "[aws]\ninstance_types = ['T3 Micro']\n[grid]", "[aws] instance_types", "not an instance type"),
    ("[grid]", "[aws]\ndefault_instance_type = 'm5.large'\n[grid]", "[aws] default_instance_type", "one of [aws] instance_types"),
    ("[grid]", "[aws]\nssh_cidr = '10.0.0.0/33'\n[grid]", "[aws] ssh_cidr", "not a CIDR"),
    ("[grid]", "[aws]\nthreads = 0\n[grid]", "[aws] threads", "between 1 and 200"),
    ("[grid]", "[aws]\ntimeout = 0\n[grid]", "[aws] timeout", "between 0 and 300"),
    ("[grid]", "[aws]\nnetwork_delete = true\n[grid]", "[aws] network_delete", "needs network_create"),
    ("[grid]", "[images]\npolicy = 'listed'\nlist = []\n[grid]", "[images] list", "needs at least one AMI"),
    ("[grid]", "[images]\npolicy = 'some'\n[grid]", "[images] policy", "must be one of"),
    ("[grid]", "[images]\nlist = ['debian']\n[grid]", "[images] list", "not an AMI id"),
    ("[grid]", "server = 1\n[grid]", "[server] server", "unknown key"),
    ('name = "fedcloud"', 'name = ""', "accounts[0].name", "is required"),
    ('fqans = ["/fedcloud.egi.eu"]', "fqans = []", "accounts[0].fqans", "needs fqans or dns"),
    ('fqans = ["/fedcloud.egi.eu"]', 'fqans = ["fedcloud"]', "accounts[0].fqans", "is not a FQAN"),
    ('fqans = ["/fedcloud.egi.eu"]', 'fqans = ["/fc"]\nvisibility = "all"', "accounts[0].visibility", "must be one of"),
    ('fqans = ["/fedcloud.egi.eu"]', 'fqans = ["/fc"]\nmanager_fqans = ["admins"]', "accounts[0].manager_fqans", "is not a FQAN"),
    ('fqans = ["/fedcloud.egi.eu"]', 'fqans = ["/fc"]\nprofile = "nosuch"', "accounts[0].profile", "no AWS profile 'nosuch'"),
    ('fqans = ["/fedcloud.egi.eu"]', 'fqans = ["/fc"]\nrole_arn = "admin"', "accounts[0].role_arn", "not an IAM role ARN"),
    ('fqans = ["/fedcloud.egi.eu"]', 'fqans = ["/fc"]\ndns = ["CN=robot"]', "accounts[0].dns", "is not a DN"),
    ('fqans = ["/fedcloud.egi.eu"]', 'fqans = ["/fc"]\nprofiles = "x"', "accounts[0].profiles", "unknown key"),
    (
        'fqans = ["/fedcloud.egi.eu"]',
        'fqans = ["/fc"]\n[[accounts]]\nname = "fedcloud"\nfqans = ["/x"]',
        "accounts[1].name",
        "used twice",
    ),
    ('[[accounts]]\nname = "fedcloud"\nfqans = ["/fedcloud.egi.eu"]', "", "[[accounts]]", "at least one account"),
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


def test_missing_files(site):
    """Host credentials and trust directories must exist and be readable."""
    for old, key in [
        (site["cert"], "[server] host_cert"),
        (site["key"], "[server] host_key"),
        (site["ca_dir"], "[grid] ca_dir"),
        (site["vomsdir"], "[grid] vomsdir"),
    ]:
        text = minimal(site).replace(old, old + ".missing")
        with pytest.raises(config.ConfigError) as e:
            config.parse(text, "occid.toml")
        assert e.value.key == key


def test_host_certificate_and_key_required(site):
    """A site must name its host credentials."""
    text = minimal(site).replace(f'host_cert = "{site["cert"]}"', "")
    with pytest.raises(config.ConfigError) as e:
        config.parse(text, "occid.toml")
    assert (e.value.key, e.value.problem) == ("[server] host_cert", "is required")


def test_key_not_matching_certificate(site, tmp_path):
    """A host key that is not the certificate's is refused at start."""
    other = tmp_path / "other"
    other.mkdir()
    _, other_key = _write_host_credentials(str(other))
    text = minimal(site).replace(site["key"], other_key)
    with pytest.raises(config.ConfigError) as e:
        config.parse(text, "occid.toml")
    assert e.value.key == "[server] host_key"
    assert "does not match the certificate" in e.value.problem


def test_garbage_credentials(site, tmp_path):
    """Files that hold no PEM certificate or key are named."""
    junk = tmp_path / "junk.pem"
    junk.write_text("not pem")
    for old, key, problem in [
        (site["cert"], "[server] host_cert", "holds no PEM certificate"),
        (site["key"], "[server] host_key", "holds no PEM private key"),
    ]:
        with pytest.raises(config.ConfigError) as e:
            config.parse(minimal(site).replace(old, str(junk)), "occid.toml")
        assert (e.value.key, problem in e.value.problem) == (key, True)


def test_encrypted_key(site, tmp_path):
    """An encrypted host key is refused: twistd cannot prompt for it."""
    with open(site["key"], "rb") as f:
        key = serialization.load_pem_private_key(f.read(), None)
    encrypted = tmp_path / "encrypted.pem"
    encrypted.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    with pytest.raises(config.ConfigError) as e:
        config.parse(minimal(site).replace(site["key"], str(encrypted)), "occid.toml")
    assert "encrypted" in e.value.problem


def test_unreadable_file(tmp_path):
    """A configuration file that cannot be read is named."""
    with pytest.raises(config.ConfigError) as e:
        config.load(str(tmp_path / "absent.toml"))
    assert e.value.key == "(file)"
    assert "cannot read" in e.value.problem


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_unreadable_by_permissions(site, tmp_path):
    """A configuration file without read permission is named."""
    path = tmp_path / "occid.toml"
    path.write_text(minimal(site))
    os.chmod(path, 0)
    with pytest.raises(config.ConfigError):
        config.load(str(path))


def test_not_utf8(tmp_path):
    """A configuration file in another encoding is refused."""
    path = tmp_path / "occid.toml"
    path.write_bytes(b"[server]\nlisten = '\xff'\n")
    with pytest.raises(config.ConfigError) as e:
        config.load(str(path))
    assert e.value.problem == "not UTF-8 text"

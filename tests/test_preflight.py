"""
Tests for L{occid.server.preflight} and L{occid.ec2.profiles}: reading the
file, and the files and AWS profiles a configuration names, checked at start
with the same one-line messages as the parse errors.
"""

import os
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from occid.config import ConfigError, parse
from occid.ec2.profiles import check_profiles
from occid.server import preflight
from tests.test_config import minimal

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


def load_text(tmp_path, text):
    """Write C{text} to a file and run preflight's L{preflight.load} on it."""
    path = tmp_path / "occid.toml"
    path.write_text(text)
    return preflight.load(str(path))


def test_minimal_site_loads(site, tmp_path):
    """A configuration whose files exist loads, and keeps its path."""
    loaded = load_text(tmp_path, minimal(site))
    assert loaded.path == str(tmp_path / "occid.toml")
    assert loaded == parse(minimal(site), str(tmp_path / "occid.toml"))


def test_sample_file_is_valid_apart_from_its_files(site, tmp_path):
    """
    The annotated etc/occid.toml loads; pointing its file keys at real files
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
    loaded = load_text(tmp_path, text)
    assert loaded.path == str(tmp_path / "occid.toml")
    assert loaded.accounts[0].manager_fqans == ("/fedcloud.egi.eu/Role=VMManager",)


def test_sample_file_names_its_missing_host_certificate():
    """Unchanged, the sample stops at the first file a site must provide."""
    with pytest.raises(ConfigError) as e:
        preflight.load(SAMPLE)
    assert e.value.key == "[server] host_cert"
    assert "cannot read /etc/grid-security/occid/hostcert.pem" in str(e.value)


def test_parse_errors_come_through(site, tmp_path):
    """A file that does not parse is refused with parse's message, naming the file."""
    with pytest.raises(ConfigError) as e:
        load_text(tmp_path, minimal(site).replace("[grid]", "[grid]\ncrl = 'maybe'"))
    assert str(e.value).startswith(f"{tmp_path / 'occid.toml'}: [grid] crl: must be one of")


def test_missing_files(site, tmp_path):
    """Host credentials and trust directories must exist and be readable."""
    for old, key in [
        (site["cert"], "[server] host_cert"),
        (site["key"], "[server] host_key"),
        (site["ca_dir"], "[grid] ca_dir"),
        (site["vomsdir"], "[grid] vomsdir"),
    ]:
        text = minimal(site).replace(old, old + ".missing")
        with pytest.raises(ConfigError) as e:
            load_text(tmp_path, text)
        assert e.value.key == key


def test_ban_list(site, tmp_path):
    """A ban list must be readable and hold DNs or token subjects, one a line."""
    banned = tmp_path / "banned"
    text = minimal(site).replace("[grid]", f'[grid]\nbanned = "{banned}"')
    with pytest.raises(ConfigError) as e:
        load_text(tmp_path, text)
    assert (e.value.key, e.value.problem) == (
        "[grid] banned", f"cannot read {banned}: No such file or directory")
    banned.write_text("/DC=org/CN=Jane Doe\njane\n")
    with pytest.raises(ConfigError) as e:
        load_text(tmp_path, text)
    assert e.value.problem.startswith(f"{banned}: line 2: 'jane' is neither a DN")
    banned.write_text("# none yet\n")
    assert load_text(tmp_path, text).grid.banned == str(banned)


def test_key_not_matching_certificate(site, tmp_path):
    """A host key that is not the certificate's is refused at start."""
    other = tmp_path / "other"
    other.mkdir()
    _, other_key = _write_host_credentials(str(other))
    with pytest.raises(ConfigError) as e:
        load_text(tmp_path, minimal(site).replace(site["key"], other_key))
    assert e.value.key == "[server] host_key"
    assert e.value.problem == f"does not match the certificate in {site['cert']}"


def test_garbage_credentials(site, tmp_path):
    """Files that hold no PEM certificate or key are named."""
    junk = tmp_path / "junk.pem"
    junk.write_text("not pem")
    for old, key, problem in [
        (site["cert"], "[server] host_cert", "holds no PEM certificate"),
        (site["key"], "[server] host_key", "holds no PEM private key"),
    ]:
        with pytest.raises(ConfigError) as e:
            load_text(tmp_path, minimal(site).replace(old, str(junk)))
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
    with pytest.raises(ConfigError) as e:
        load_text(tmp_path, minimal(site).replace(site["key"], str(encrypted)))
    assert "encrypted" in e.value.problem


def test_unknown_profile(site, tmp_path):
    """An account naming an AWS profile the user running occid lacks is refused."""
    text = minimal(site).replace('fqans = ["/fedcloud.egi.eu"]', 'fqans = ["/fc"]\nprofile = "nosuch"')
    with pytest.raises(ConfigError) as e:
        check_profiles(load_text(tmp_path, text))
    assert e.value.key == "accounts[0].profile"
    assert e.value.problem == (
        "no AWS profile 'nosuch' in the shared AWS config or credentials files "
        "of the user running occid"
    )


def test_known_profile(site):
    """A profile of the shared credentials file passes; no profile at all needs no file."""
    text = minimal(site).replace('fqans = ["/fedcloud.egi.eu"]', 'fqans = ["/fc"]\nprofile = "fedcloud"')
    check_profiles(parse(text, "occid.toml"))
    check_profiles(parse(minimal(site), "occid.toml"))


def test_unreadable_file(tmp_path):
    """A configuration file that cannot be read is named."""
    with pytest.raises(ConfigError) as e:
        preflight.load(str(tmp_path / "absent.toml"))
    assert e.value.key == "(file)"
    assert "cannot read" in e.value.problem


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_unreadable_by_permissions(site, tmp_path):
    """A configuration file without read permission is named."""
    path = tmp_path / "occid.toml"
    path.write_text(minimal(site))
    os.chmod(path, 0)
    with pytest.raises(ConfigError):
        preflight.load(str(path))


def test_not_utf8(tmp_path):
    """A configuration file in another encoding is refused."""
    path = tmp_path / "occid.toml"
    path.write_bytes(b"[server]\nlisten = '\xff'\n")
    with pytest.raises(ConfigError) as e:
        preflight.load(str(path))
    assert e.value.problem == "not UTF-8 text"

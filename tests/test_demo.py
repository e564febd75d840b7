"""
Tests for L{occid.demo} and C{twistd -n occid --demo}: the throwaway
credentials pass occid's own validation and are reused or renewed as they
should be, and the running demo prints commands that work exactly as
printed.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from twisted.python import usage

from occid import tap
from occid.demo.announce import CURL_HEADING, END_HEADING, ROCCI_HEADING
from occid.demo.credentials import CRL_LIFETIME, DemoFiles, ensure_credentials
from occid.demo.issuer import Issuer
from occid.demo.pki import free_port, subject_hash
from occid.demo.preparation import (
    AMIS_PATH,
    REGION,
    SECOND_REGION,
    Demo,
    config_text,
    demo_images,
)
from occid.gsi.authenticator import GridAuthenticator
from occid.gsi.chain import ChainOptions
from occid.gsi.trust import TrustStore
from occid.gsi.vomsdir import VomsDir
from occid.server import preflight
from tests.daemon import REPO, twistd_command

NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)


def snapshot(directory) -> dict[str, bytes]:
    """Every file under C{directory}: relative path -> content."""
    found = {}
    for root, _, names in os.walk(directory):
        for name in names:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                found[os.path.relpath(path, directory)] = f.read()
    return found


def authenticate(files: DemoFiles, now: datetime):
    """The principal occid's own validation makes of the demo proxy at C{now}."""
    with open(files.proxy, "rb") as f:
        chain = x509.load_pem_x509_certificates(f.read())
    authenticator = GridAuthenticator(
        TrustStore.load(files.certificates, now), VomsDir.load(files.vomsdir),
        ChainOptions(crl="require", legacy_proxies=False), host="localhost",
        log_dropped=lambda dn, dropped: pytest.fail(f"AC dropped: {dropped}"),
    )
    return authenticator.authenticate(chain, [], now)


@pytest.fixture(scope="module")
def credentials(tmp_path_factory):
    """A demo directory whose credentials were made at L{NOW}, and its files."""
    files = DemoFiles(str(tmp_path_factory.mktemp("demo")))
    ensure_credentials(files, NOW)
    return files


def test_proxy_passes_occid_validation(credentials):
    """The demo proxy is an RFC 3820 proxy with a VOMS AC that occid accepts, strict CRLs on."""
    principal = authenticate(credentials, NOW)
    assert principal.dn == "/DC=example/DC=occid/OU=Users/CN=Demo User"
    assert principal.vo == "demo.occid.example"
    assert principal.fqans == ("/demo.occid.example",)
    assert principal.proxy_depth == 1 and not principal.limited and not principal.legacy
    assert principal.not_after == NOW + timedelta(hours=12)


def test_trust_dir_layout(credentials):
    """The trust dir holds the CA under its OpenSSL hash with CRL and both policy files."""
    ca = x509.load_pem_x509_certificate(Path(credentials.ca).read_bytes())
    stem = subject_hash(ca)
    assert sorted(os.listdir(credentials.certificates)) == [
        f"{stem}.0", f"{stem}.namespaces", f"{stem}.r0", f"{stem}.signing_policy"]
    store = TrustStore.load(credentials.certificates, NOW)
    assert store.problems == ()
    assert os.listdir(os.path.join(credentials.vomsdir, "demo.occid.example")) == ["localhost.lsc"]


def test_host_certificate_names_localhost(credentials):
    """The host certificate is for DNS localhost and IP 127.0.0.1."""
    host = x509.load_pem_x509_certificate(Path(credentials.host_cert).read_bytes())
    names = host.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(a) for a in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]


def test_keys_are_private(credentials):
    """Private keys and the proxy are readable by their owner only."""
    for path in (credentials.ca_key, credentials.host_key, credentials.user_key,
                 credentials.voms_key, credentials.proxy, credentials.ssh_key):
        assert os.stat(path).st_mode & 0o077 == 0, path


def test_ssh_key_is_ed25519(credentials):
    """The SSH public key is an OpenSSH ed25519 key, which EC2 imports."""
    with open(credentials.ssh_public_key, encoding="ascii") as f:
        assert f.read().startswith("ssh-ed25519 ")


def test_restart_reuses_everything(credentials):
    """A second start an hour later changes no file."""
    before = snapshot(credentials.directory)
    ensure_credentials(credentials, NOW + timedelta(hours=1))
    assert snapshot(credentials.directory) == before


def test_proxy_renewed_within_an_hour_of_its_end(tmp_path):
    """Less than an hour before the proxy ends a new one is made; the PKI stays."""
    files = DemoFiles(str(tmp_path))
    ensure_credentials(files, NOW)
    before = snapshot(tmp_path)
    later = NOW + timedelta(hours=11, minutes=30)
    ensure_credentials(files, later)
    after = snapshot(tmp_path)
    assert after["proxy.pem"] != before["proxy.pem"]
    assert {k: v for k, v in after.items() if k != "proxy.pem"} == \
        {k: v for k, v in before.items() if k != "proxy.pem"}
    assert authenticate(files, later).not_after == later + timedelta(hours=12)


def test_crl_resigned_before_it_expires(tmp_path):
    """A CRL within a day of its nextUpdate is signed again by the same CA."""
    files = DemoFiles(str(tmp_path))
    ensure_credentials(files, NOW)
    before = snapshot(tmp_path)
    later = NOW + CRL_LIFETIME - timedelta(hours=12)
    ensure_credentials(files, later)
    after = snapshot(tmp_path)
    crl = next(name for name in after if name.endswith(".r0"))
    assert after[crl] != before[crl]
    assert after["ca.pem"] == before["ca.pem"]
    assert authenticate(files, later).vo == "demo.occid.example"


def test_missing_credential_starts_a_new_pki(tmp_path):
    """A missing user certificate makes a new CA; the old CA leaves the trust dir."""
    files = DemoFiles(str(tmp_path))
    ensure_credentials(files, NOW)
    old_ca = Path(files.ca).read_bytes()
    os.unlink(files.user_cert)
    ensure_credentials(files, NOW)
    assert Path(files.ca).read_bytes() != old_ca
    assert len(os.listdir(files.certificates)) == 4
    assert authenticate(files, NOW).vo == "demo.occid.example"


def test_configuration_loads(credentials):
    """The written occid.toml passes occid's configuration checks and points at the demo."""
    setup = Demo(files=credentials, port=12443, emulator_port=15999, images=demo_images(),
                 issuer=Issuer("http://127.0.0.1:15998"))
    path = os.path.join(credentials.directory, "check.toml")
    with open(path, "w", encoding="utf-8") as f:
        f.write(config_text(setup))
    config = preflight.load(path)
    assert config.server.listen == "tcp:12443:interface=127.0.0.1"
    assert config.server.public_host == "localhost"
    assert config.aws.endpoint_url == "http://127.0.0.1:15999"
    assert config.aws.regions == (REGION, SECOND_REGION)
    assert config.images.list == tuple(i.id for i in demo_images() if i.region == REGION)
    assert config.images.regions[SECOND_REGION].list == tuple(
        i.id for i in demo_images() if i.region == SECOND_REGION)
    assert config.accounts[0].fqans == ("/demo.occid.example",)
    assert [issuer.url for issuer in config.oidc.issuers] == ["http://127.0.0.1:15998"]


def test_demo_amis_have_no_creation_date():
    """The packaged AMI list is small and leaves creation_date to moto."""
    images = demo_images()
    assert 1 <= len(images) <= 5
    assert "creation_date" not in Path(AMIS_PATH).read_text(encoding="utf-8")


@pytest.mark.parametrize("arguments, message", [
    (["--demo-dir", "x"], "--demo-dir and --port go with --demo"),
    (["--port", "1234"], "--demo-dir and --port go with --demo"),
    (["--demo", "--config", "/etc/x.toml"], "leave out --config"),
    (["--demo", "--port", "70000"], "is not a TCP port"),
])
def test_demo_option_errors(arguments, message):
    """Demo options out of place or out of range are usage errors, before anything is made."""
    with pytest.raises(usage.UsageError) as e:
        tap.Options().parseOptions(arguments)
    assert message in str(e.value)


# -- the running demo ---------------------------------------------------------------


class RunningDemo:
    """
    C{twistd -n occid --demo} in a subprocess (twistd's default pid file),
    in the demo directory's parent, its output collected as it comes.
    """

    def __init__(self, directory: str, port: int):
        self.lines: list[str] = []
        self._printed = threading.Event()
        self.process = subprocess.Popen(
            [*twistd_command(), "-n", "occid", "--demo", "--demo-dir", directory,
             "--port", str(port)],
            cwd=os.path.dirname(directory), env=dict(os.environ, PYTHONPATH=REPO),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.append(line)
            if line.strip() == END_HEADING:
                self._printed.set()
        self._printed.set()

    def instructions(self, timeout: float = 90) -> str:
        """Everything printed up to the end of the commands (fails if the demo did not get there)."""
        self._printed.wait(timeout)
        output = "".join(self.lines)
        if END_HEADING not in output:
            self.stop()
            pytest.fail(f"the demo printed no commands:\n{''.join(self.lines)}")
        return output

    def stop(self) -> str:
        """SIGTERM, wait; everything the process wrote."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        time.sleep(0.1)
        return "".join(self.lines)


def curl_commands(output: str) -> list[str]:
    """The shell commands of the curl section: each follows a C{#} comment, up to a blank line."""
    section = output.split(CURL_HEADING, 1)[1].split(ROCCI_HEADING, 1)[0]
    blocks = [block.strip("\n") for block in re.split(r"\n\s*\n", section) if block.strip()]
    commands = []
    for block in blocks:
        lines = block.split("\n")
        assert lines[0].startswith("# "), block
        commands.append("\n".join(lines[1:]))
    return commands


def run_in_one_shell(commands: list[str]) -> list[tuple[str, int, list[int], str]]:
    """
    Run C{commands} unchanged, in order, in one bash; for each: the command,
    its exit status, the HTTP statuses in its output and the output.
    """
    script = "".join(f"echo '@@begin {i}'\n{command}\necho \"@@status $?\"\n"
                     for i, command in enumerate(commands))
    result = subprocess.run(["bash", "-c", script + "exit 0\n"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, timeout=300,
                            stdin=subprocess.DEVNULL)
    parts = re.split(r"^@@begin \d+\n", result.stdout, flags=re.MULTILINE)[1:]
    assert len(parts) == len(commands), result.stdout
    outcomes = []
    for command, part in zip(commands, parts, strict=True):
        body, _, status = part.rpartition("@@status ")
        codes = [int(code) for code in re.findall(r"^HTTP/1\.1 (\d{3})", body, flags=re.MULTILINE)]
        outcomes.append((command, int(status.split()[0]), codes, body))
    return outcomes


needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="curl absent: apt-get install curl")


@needs_curl
def test_printed_commands_work_as_printed(tmp_path):
    """
    The demo starts on a free port and prints ten curl commands (query
    interface, create, list, describe, stop, delete; create in the second
    region, delete; create and delete with the demo's access token and no
    certificate) that each exit 0 with an HTTP 2xx when run unchanged, in
    order, in one shell; it stops cleanly on SIGTERM, taking the emulator
    and the OIDC issuer with it.
    """
    directory = str(tmp_path / "occid-demo")
    port = free_port()
    running = RunningDemo(directory, port)
    try:
        output = running.instructions()
        outcomes = run_in_one_shell(curl_commands(output))
    finally:
        log = running.stop()
    assert len(outcomes) == 10
    for command, status, codes, body in outcomes:
        assert status == 0, f"{command}\n{body}"
        assert codes and all(200 <= code < 300 for code in codes), f"{command}\n{body}"
    assert f"https://localhost:{port}/compute/i-" in outcomes[1][3]
    assert outcomes[4][3].rstrip().endswith("Content-Length: 0")
    assert re.search(rf"/compute/i-[0-9a-f]+\.{SECOND_REGION}\b", outcomes[6][3])
    assert f"https://localhost:{port}/compute/i-" in outcomes[8][3]
    assert "--auth token" in output
    assert directory in output and "occi --endpoint" in output
    assert "Server Shut Down." in log
    assert running.process.returncode in (0, -signal.SIGTERM)


@needs_curl
def test_restart_reuses_credentials_and_deleting_starts_clean(tmp_path):
    """
    A second start in the same directory keeps the CA and proxy files as
    they were and still serves them; after deleting the directory a new
    CA is made.  twistd's pid file is in the demo directory, not in the
    working directory.
    """
    directory = str(tmp_path / "occid-demo")
    files = DemoFiles(directory)
    first = RunningDemo(directory, free_port())
    first.instructions()
    assert os.path.exists(os.path.join(directory, "twistd.pid"))
    assert not os.path.exists(tmp_path / "twistd.pid")
    # Stopped at once, while the startup catalog load may still run: the
    # emulator outlives the EC2 thread pool, so nothing fails to reach it.
    assert "cannot be reached" not in first.stop()
    kept = {path: Path(path).read_bytes() for path in (files.ca, files.proxy, files.user_cert)}

    second = RunningDemo(directory, free_port())
    try:
        output = second.instructions()
        [(_, status, codes, body)] = run_in_one_shell(curl_commands(output)[:1])
    finally:
        second.stop()
    assert (status, codes) == (0, [200]), body
    assert {path: Path(path).read_bytes() for path in kept} == kept

    shutil.rmtree(directory)
    third = RunningDemo(directory, free_port())
    third.instructions()
    third.stop()
    assert Path(files.ca).read_bytes() != kept[files.ca]

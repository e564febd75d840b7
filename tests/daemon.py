# -*- test-case-name: tests.test_daemon -*-
"""
The real daemon in a subprocess, for end-to-end tests: C{twistd -n occid
--config FILE} on 127.0.0.1 with a test PKI and a moto EC2 server, and curl
as an independent client (or L{tls_request}, Python's C{ssl} sending bytes
curl would not send).
"""

from __future__ import annotations

import os
import resource
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization

from tests.motoserver import free_port
from tests.rawhttp import RawResponse, read_response

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: The accounts every daemon test configures: one per test VO.
ACCOUNTS = """
[[accounts]]
name = "testvo"
fqans = ["/testvo"]
visibility = "owner"
manager_fqans = ["/testvo/Role=VMManager"]

[[accounts]]
name = "othervo"
fqans = ["/othervo"]
"""


def twistd_command() -> list[str]:
    """twistd of the Python running the tests (the venv's, in CI)."""
    beside = os.path.join(os.path.dirname(sys.executable), "twistd")
    if os.path.exists(beside):
        return [beside]
    return [sys.executable, "-c", "from twisted.scripts.twistd import run; run()"]


def aws_environment(directory: str) -> dict[str, str]:
    """Fake AWS credentials and no shared AWS files, for a moto-backed daemon."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_CONFIG_FILE=os.path.join(directory, "aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=os.path.join(directory, "aws-credentials"),
    )
    return env



def metrics_listener() -> tuple[str, str]:
    """A C{[metrics]} section on a free loopback port, to put after the accounts, and its URL."""
    port = free_port()
    return (f'\n[metrics]\nlisten = "tcp:{port}:interface=127.0.0.1"\n',
            f"http://127.0.0.1:{port}")


class Daemon:
    """
    One occid process.  C{server}, C{grid}, C{aws} and C{images} are extra lines of
    those sections, C{accounts} the C{[[accounts]]} tables (and any section
    after them), C{instance_types} the resource_tpl offered, C{options}
    more options of C{twistd occid}; C{listen_options} are appended to the
    listen endpoint (C{":backlog=2048"}); C{max_descriptors} its
    C{RLIMIT_NOFILE} (as systemd's C{LimitNOFILE}); C{port} the port to
    serve (default: a free one; daemons with C{reuse_port} share one).
    """

    def __init__(self, directory: str, pki, moto_endpoint: str, *, listen_options: str = "",
                 server: str = "", grid: str = "",
                 aws: str = "", images: str = "", accounts: str = ACCOUNTS,
                 instance_types: tuple[str, ...] = ("t3.micro", "t3.small"),
                 options: tuple[str, ...] = (), max_descriptors: int | None = None,
                 port: int | None = None):
        self.directory = directory
        self.options = options
        self.max_descriptors = max_descriptors
        self.pki = pki
        self.port = port or free_port()
        self.url = f"https://localhost:{self.port}"
        self.config_path = os.path.join(directory, "occid.toml")
        self.log_path = os.path.join(directory, "occid.log")
        self.cacert = os.path.join(directory, "cacert.pem")
        with open(self.cacert, "wb") as f:
            f.write(pki.ca.certificate.public_bytes(serialization.Encoding.PEM))
        with open(self.config_path, "w", encoding="utf-8") as f:
            f.write(
                f"""
[server]
listen = "tcp:{self.port}:interface=127.0.0.1{listen_options}"
public_url = "{self.url}"
host_cert = "{pki.directory}/hostcert.pem"
host_key = "{pki.directory}/hostkey.pem"
{server}

[grid]
ca_dir = "{pki.certificates_dir}"
vomsdir = "{pki.vomsdir}"
{grid}

[aws]
endpoint_url = "{moto_endpoint}"
instance_types = [{", ".join(f'"{t}"' for t in instance_types)}]
{aws}

[images]
policy = "listed"
list = ["ami-0a1b2c3d4e5f60001", "ami-0a1b2c3d4e5f60002"]
{images}
{accounts}
"""
            )
        self._process: subprocess.Popen | None = None

    @property
    def pid(self) -> int:
        """The process id of the running daemon."""
        assert self._process is not None, "the daemon is not running"
        return self._process.pid

    def command(self) -> list[str]:
        """The twistd command line that runs this daemon in the foreground."""
        return [*twistd_command(), "--nodaemon", "--pidfile=", f"--logfile={self.log_path}",
                "occid", "--config", self.config_path, *self.options]

    def environment(self) -> dict[str, str]:
        """The daemon's environment: fake AWS credentials, the repository on the path."""
        env = aws_environment(self.directory)
        env["PYTHONPATH"] = REPO
        return env

    def start(self, timeout: float = 60.0) -> None:
        """Start the daemon and wait until its port accepts connections."""
        process = self._process = subprocess.Popen(
            self.command(), cwd=self.directory, env=self.environment(),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            preexec_fn=None if self.max_descriptors is None else self._limit_descriptors,
        )
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                assert process.stdout is not None
                output = process.stdout.read().decode(errors="replace")
                raise RuntimeError(f"occid exited {process.returncode}: {output}\n{self.log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"occid did not listen in time:\n{self.log()}") from None
                time.sleep(0.1)

    def _limit_descriptors(self) -> None:
        """In the child, before twistd: at most C{max_descriptors} open files."""
        resource.setrlimit(resource.RLIMIT_NOFILE, (self.max_descriptors, self.max_descriptors))

    def stop(self) -> bool:
        """
        Stop the daemon with SIGTERM; whether it shut down cleanly (twistd
        re-raises the signal after a clean shutdown, so the status is -15),
        false if it was not running.
        """
        process = self._process
        if process is None:
            return False
        process.terminate()
        try:
            status = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            status = process.wait()
        if process.stdout is not None:
            process.stdout.close()
        self._process = None
        return status in (0, -15) and "Server Shut Down." in self.log()

    def signal(self, number: int) -> None:
        """Send signal C{number} to the daemon (which must be running)."""
        assert self._process is not None, "the daemon is not running"
        self._process.send_signal(number)

    def log_mark(self) -> int:
        """Where the log ends now, for L{log} to read only what follows."""
        return len(self.log())

    def wait_for_log(self, words: str, since: int = 0, timeout: float = 30.0) -> str:
        """The first log line after the mark C{since} holding C{words}, waiting for it."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.log(since).splitlines():
                if words in line:
                    return line
            if time.monotonic() > deadline:
                raise AssertionError(f"no log line with {words!r} in {timeout} s:\n{self.log(since)}")
            time.sleep(0.05)

    def rewrite_config(self, old: str, new: str) -> None:
        """Replace C{old} by C{new} in the configuration file (C{old} must be there)."""
        with open(self.config_path, encoding="utf-8") as f:
            text = f.read()
        assert old in text, f"{old!r} is not in {self.config_path}"
        with open(self.config_path, "w", encoding="utf-8") as f:
            f.write(text.replace(old, new))

    def log(self, since: int = 0) -> str:
        """What the daemon logged (after the mark C{since})."""
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return f.read()[since:]
        except FileNotFoundError:
            return ""


@dataclass
class CurlResult:
    """What curl got: the status, the raw header lines, the body, its exit code."""

    status: int
    headers: str
    body: str
    exit_code: int

    def header(self, name: str) -> str | None:
        """The value of the response header C{name} (case-insensitive), or C{None}."""
        for line in self.headers.splitlines():
            field, colon, value = line.partition(":")
            if colon and field.strip().lower() == name.lower():
                return value.strip()
        return None


def _read(path: str) -> str:
    """The text of the file C{path}, or nothing if curl did not write it."""
    if not os.path.exists(path):
        return ""
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def curl(daemon: Daemon, proxy: str | None, path: str = "/-/", *args: str) -> CurlResult:
    """
    curl over TLS to the daemon, presenting the proxy file C{proxy} (or no
    certificate), checking the server against the test CA.  Safe to call
    from several threads at once (each writes its own files).
    """
    thread = threading.get_ident()
    headers = os.path.join(daemon.directory, f"curl-headers-{thread}")
    body = os.path.join(daemon.directory, f"curl-body-{thread}")
    for stale in (headers, body):  # curl writes no body file for a 304 or a HEAD
        if os.path.exists(stale):
            os.remove(stale)
    argv = ["curl", "-sS", "--cacert", daemon.cacert, "-D", headers, "-o", body,
            "-w", "%{http_code}", "--max-time", "60"]
    if proxy is not None:
        argv += ["--cert", proxy, "--key", proxy]
    argv += [*args, daemon.url + path]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=90,
                            stdin=subprocess.DEVNULL, env={**os.environ, "OPENSSL_CONF": "/dev/null"})
    return CurlResult(int(result.stdout or 0), _read(headers), _read(body), result.returncode)


def started(daemon: Daemon) -> Iterator[Daemon]:
    """For a fixture (C{yield from}): C{daemon} running, then stopped cleanly."""
    daemon.start()
    yield daemon
    assert daemon.stop()


def have_curl() -> bool:
    """Whether curl is installed."""
    return shutil.which("curl") is not None


def tls_request(daemon: Daemon, proxy: str, method: str, path: str,
                headers: list[tuple[str, str]] | tuple[tuple[str, str], ...] = (),
                body: bytes = b"", timeout: float = 30.0) -> RawResponse:
    """
    One request over a new TLS connection to the daemon, presenting the
    proxy file C{proxy}, sent as given (any bytes in the path, header values
    and body; C{Host}, C{Content-Length} and C{Connection: close} added).
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(daemon.cacert)
    context.load_cert_chain(proxy)
    head = [f"{method} {path} HTTP/1.1".encode("utf-8", "surrogatepass"),
            b"Host: localhost", f"Content-Length: {len(body)}".encode(), b"Connection: close"]
    head += [name.encode("latin-1") + b": " + value.encode("utf-8", "surrogatepass")
             for name, value in headers]
    with (
        socket.create_connection(("127.0.0.1", daemon.port), timeout=timeout) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        tls.sendall(b"\r\n".join(head) + b"\r\n\r\n" + body)
        answer = b""
        while chunk := tls.recv(65536):
            answer += chunk
    return read_response(answer)

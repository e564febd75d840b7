"""
What the benchmarks share: a throwaway grid PKI with VOMS proxies, an occid
configuration for it, server processes (started, watched, stopped), client
worker processes released together, and the statistics and printing of
interleaved runs.

Benchmarks are run by hand from the repository root (C{python -m
bench.<name>}); they are not tests.  Everything listens on 127.0.0.1 and
every process started here is stopped here.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import multiprocessing
import os
import platform
import ssl
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cryptography.hazmat.primitives import serialization

from tests.pki import PKI
from tests.vomsfactory import ac_extension, build_ac

#: The repository root: the benchmarks import occid and the test factories from it.
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: The VO of every benchmark proxy, its FQAN, and the account serving it.
VO = "testvo"
FQANS = ("/testvo",)
VOMS_HOST = "voms.example.org"

#: Clock ticks per second, for /proc/<pid>/stat.
TICKS = os.sysconf("SC_CLK_TCK")


# -- grid credentials -----------------------------------------------------------


def make_pki(directory: str) -> PKI:
    """A test CA with host, user and VOMS credentials, and the vomsdir entry for L{VO}."""
    pki = PKI(directory)
    pki.lsc(VO, VOMS_HOST)
    return pki


def write_voms_proxy(pki: PKI, path: str) -> str:
    """
    Write a fresh proxy of the test user carrying a fresh VOMS attribute
    certificate for L{VO}, as C{voms-proxy-init} would; return C{path}.

    (The AC is re-read from its DER before it goes into the proxy: asn1crypto
    re-encodes a freshly built structure slowly, 13 ms instead of 1 ms.)
    """
    ac = build_ac(signer=pki.voms, holder=pki.user.certificate, now=pki.now, vo=VO, fqans=FQANS)
    ac = type(ac).load(ac.dump())
    return pki.issue_proxy(pki.user, extensions=[ac_extension([ac])]).write(path)


def occid_config(pki: PKI, port: int, extra: str = "") -> str:
    """The text of an occid.toml serving L{VO} with C{pki}'s files on 127.0.0.1:C{port}."""
    return f"""
[server]
listen = "tcp:{port}:interface=127.0.0.1"
public_url = "https://localhost:{port}"
host_cert = "{pki.directory}/hostcert.pem"
host_key = "{pki.directory}/hostkey.pem"

[grid]
ca_dir = "{pki.certificates_dir}"
vomsdir = "{pki.vomsdir}"
{extra}
[[accounts]]
name = "{VO}"
fqans = ["/{VO}"]
"""


def ca_file(pki: PKI, directory: str) -> str:
    """Write the test CA certificate (for clients checking the server) and return its path."""
    path = os.path.join(directory, "cacert.pem")
    with open(path, "wb") as f:
        f.write(pki.ca.certificate.public_bytes(serialization.Encoding.PEM))
    return path


# -- processes ------------------------------------------------------------------


def python_environment() -> dict[str, str]:
    """This environment with the repository importable."""
    env = dict(os.environ)
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    return env


class ServerProcess:
    """
    A server in a subprocess that prints one JSON line (its ports and
    paths) once it listens, and stops when its stdin closes.
    """

    def __init__(self, argv: list[str], env: dict[str, str] | None = None):
        self.argv = argv
        self.env = env or python_environment()
        self.process: subprocess.Popen | None = None
        self.info: dict = {}

    def start(self, timeout: float = 120.0) -> dict:
        """Start it and return what it printed."""
        self.process = subprocess.Popen(
            self.argv, env=self.env, cwd=REPO, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True,
        )
        started = time.monotonic()
        line = self.process.stdout.readline()
        if not line:
            code = self.process.wait(timeout=max(1.0, timeout - (time.monotonic() - started)))
            raise RuntimeError(f"{self.argv[:4]} exited {code} before listening")
        self.info = json.loads(line)
        return self.info

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        """Close its stdin, then terminate it if it lingers."""
        if self.process is None:
            return
        self.process.stdin.close()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            terminate(self.process)
        self.process.stdout.close()
        self.process = None


def terminate(process: subprocess.Popen) -> None:
    """SIGTERM C{process}, then SIGKILL it if it lingers 15 s; reap it."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time used so far by process C{pid}."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_kib(pid: int) -> int:
    """The resident set size of process C{pid} (VmRSS), in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


# -- clients ---------------------------------------------------------------------


def client_context(ca: str, proxy: str) -> ssl.SSLContext:
    """A client context checking the server against C{ca} and presenting the proxy file C{proxy}."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(ca)
    context.load_cert_chain(proxy)
    return context


def client_description(workers: int, how: str) -> str:
    """The client line of a benchmark's header."""
    return (f"client: Python {platform.python_version()} http.client over ssl "
            f"({ssl.OPENSSL_VERSION}), {workers} processes, {how}; server certificate "
            f"verified; proxy = RFC 3820 + VOMS AC, RSA-2048")


def keepalive_worker(port: int, ca: str, proxy: str, path: str, headers=(),
                     limit: int | None = None, expected: int = 200):
    """
    A worker factory for L{run_workers}: each worker opens one TLS
    connection presenting C{proxy} (and makes one request on it) before the
    start, then sends C{GET path} on it, one request after another, until
    the deadline or (if given) C{limit} requests.  An answer with status
    C{expected} (a 304, say) counts as a success.
    """
    headers = dict(headers)

    def get(connection):
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()

    def make(index):
        connection = http.client.HTTPSConnection(
            "127.0.0.1", port, context=client_context(ca, proxy), timeout=60)
        status, body = get(connection)
        if status != expected:
            raise RuntimeError(f"GET {path}: {status} {body[:200]!r}")

        def run(deadline):
            tally = Tally()
            while time.monotonic() < deadline and (limit is None or tally.count < limit):
                started = time.perf_counter()
                status, body = get(connection)
                tally.answered(200 if status == expected else status, body,
                               time.perf_counter() - started)
            connection.close()
            return tally.outcome()

        return run

    return make


# -- client workers ---------------------------------------------------------------


@dataclass
class RunResult:
    """
    One timed run of one variant: what every worker did between the common
    start and its deadline.
    """

    variant: str
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    server_cpu: float | None = None
    #: CPU seconds over the run of the other processes watched, by name.
    others_cpu: dict[str, float] = field(default_factory=dict)
    first_error: str = ""

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def p50_ms(self) -> float:
        return percentile(self.latencies, 50) * 1000

    @property
    def p99_ms(self) -> float:
        return percentile(self.latencies, 99) * 1000

    @property
    def cpu_ms_per_request(self) -> float | None:
        return self._per_request_ms(self.server_cpu)

    def others_cpu_ms_per_request(self) -> dict[str, float | None]:
        """The CPU per request of each other process watched, in ms, by name."""
        return {name: self._per_request_ms(seconds) for name, seconds in self.others_cpu.items()}

    def _per_request_ms(self, seconds: float | None) -> float | None:
        if seconds is None or not self.requests:
            return None
        return seconds / self.requests * 1000


def _worker(make, index, barrier, queue, duration):
    """
    In a forked process: C{make(index)} prepares a C{run(deadline)}
    (connections opened, contexts built), then everyone starts together.
    C{run} returns C{(requests, errors, latencies, first_error)}.
    """
    try:
        run = make(index)
    except BaseException as e:  # noqa: BLE001 - whatever failed is the worker's report
        barrier.abort()
        queue.put((0, 1, [], 0.0, f"prepare: {e!r}"))
        return
    try:
        barrier.wait(timeout=300)
    except threading.BrokenBarrierError:
        queue.put((0, 0, [], 0.0, ""))
        return
    start = time.monotonic()
    requests, errors, latencies, first_error = run(start + duration)
    queue.put((requests, errors, latencies, time.monotonic() - start, first_error))


def cpu_times(pids: Mapping[str, int]) -> dict[str, float]:
    """L{cpu_seconds} of each process of C{pids}, by the same names."""
    return {name: cpu_seconds(pid) for name, pid in pids.items()}


#: The name of the server in the CPU times L{run_workers} reads.
_SERVER = "server"


def run_workers(variant: str, make, workers: int, duration: float,
                server_pid: int | None = None,
                watched: Mapping[str, int] | None = None) -> RunResult:
    """
    Fork C{workers} processes, each running C{make(index)}'s C{run} for
    C{duration} seconds from a common start; gather their results and the
    CPU time over the run of the server and of the other processes
    C{watched} (pids by name).
    """
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(workers + 1)
    queue = context.Queue()
    processes = [
        context.Process(target=_worker, args=(make, i, barrier, queue, duration), daemon=True)
        for i in range(workers)
    ]
    for process in processes:
        process.start()
    with contextlib.suppress(threading.BrokenBarrierError):
        barrier.wait(timeout=300)
    pids = {**(watched or {}), **({_SERVER: server_pid} if server_pid else {})}
    cpu_before = cpu_times(pids)
    result = RunResult(variant)
    for _ in processes:
        requests, errors, latencies, seconds, first_error = queue.get(timeout=duration + 300)
        result.requests += requests
        result.errors += errors
        result.latencies += latencies
        result.seconds = max(result.seconds, seconds)
        result.first_error = result.first_error or first_error
    spent = {name: seconds - cpu_before[name] for name, seconds in cpu_times(pids).items()}
    result.server_cpu = spent.pop(_SERVER, None)
    result.others_cpu = spent
    for process in processes:
        process.join(timeout=30)
    return result


# -- statistics and printing ------------------------------------------------------


def percentile(values, q: float) -> float:
    """The C{q}-th percentile of C{values} (nearest rank), 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


class Tally:
    """One worker's count of answers (200 is success), latencies and first error."""

    def __init__(self) -> None:
        self.done = self.errors = 0
        self.latencies: list[float] = []
        self.first_error = ""

    @property
    def count(self) -> int:
        return self.done + self.errors

    def answered(self, status: int, body: bytes, seconds: float) -> None:
        self.latencies.append(seconds)
        if status == 200:
            self.done += 1
        else:
            self.failed(f"{status} {body[:120]!r}")

    def failed(self, why: str) -> None:
        self.errors += 1
        self.first_error = self.first_error or why

    def outcome(self) -> tuple[int, int, list[float], str]:
        """What a worker's run returns: (done, errors, latencies, first error)."""
        return self.done, self.errors, self.latencies, self.first_error


def daemon_files(directory: str) -> tuple[PKI, str, str]:
    """A PKI, an occid.toml for port 11443 and the CA file, in C{directory}."""
    pki = make_pki(directory)
    config = os.path.join(directory, "occid.toml")
    with open(config, "w", encoding="utf-8") as f:
        f.write(occid_config(pki, 11443))
    return pki, config, ca_file(pki, directory)


def arguments(doc: str, clients: int, clients_help: str = "client processes (concurrency)"):
    """The options every benchmark takes: --runs, --duration, --clients."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per run")
    parser.add_argument("--clients", type=int, default=clients, help=clients_help)
    return parser


@dataclass(frozen=True)
class Medians:
    """The medians over a variant's runs."""

    p50_ms: float
    rate: float
    cpu_ms: float | None
    #: The CPU per request of the other processes watched, by name.
    others_cpu_ms: dict[str, float | None] = field(default_factory=dict)


def medians(results: dict[str, list[RunResult]]) -> dict[str, Medians]:
    """
    Per variant, the medians of its runs' p50 latency, rate and CPU per
    request of the server and of the other processes watched (C{None} where
    none was measured).
    """
    def cpu(per_run):
        measured = [ms for ms in per_run if ms is not None]
        return median(measured) if measured else None

    def others(runs):
        names = {name for r in runs for name in r.others_cpu}
        return {name: cpu(r.others_cpu_ms_per_request().get(name) for r in runs)
                for name in sorted(names)}

    return {
        variant: Medians(
            median(r.p50_ms for r in runs), median(r.rate for r in runs),
            cpu(r.cpu_ms_per_request for r in runs), others(runs),
        )
        for variant, runs in results.items()
    }


def median(values) -> float:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else 0.0


def rotations(variants: list[str], runs: int) -> list[list[str]]:
    """The order of C{variants} in each of C{runs} rounds, rotated so none always goes first."""
    return [variants[i % len(variants):] + variants[: i % len(variants)] for i in range(runs)]


def print_header(title: str, lines: list[str]) -> None:
    """Print the benchmark's title, the machine and the setup C{lines}."""
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"== {title}")
    load = " ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"   {now}; {os.cpu_count()} cores, load average {load}; Python "
          f"{platform.python_version()}; {platform.machine()} {platform.system()} "
          f"{platform.release()}")
    for line in lines:
        print(f"   {line}")
    sys.stdout.flush()


def print_run(result: RunResult) -> None:
    """One line per run."""
    cpu = result.cpu_ms_per_request
    cpu_text = f", server CPU {cpu:.2f} ms/req" if cpu is not None else ""
    others = [f"{name} {ms:.2f}" for name, ms in result.others_cpu_ms_per_request().items()
              if ms is not None]
    if others:
        cpu_text += f" ({', '.join(others)})"
    errors = f", {result.errors} errors ({result.first_error})" if result.errors else ""
    print(f"   {result.variant:<10} {result.requests:6d} req in {result.seconds:5.2f} s = "
          f"{result.rate:7.1f}/s, p50 {result.p50_ms:6.2f} ms, p99 {result.p99_ms:6.2f} ms"
          f"{cpu_text}{errors}")
    sys.stdout.flush()


def verdict(name: str, value: float, target: str, met: bool | None) -> str:
    """A result line: the ratio, its target and whether it was met."""
    outcome = "" if met is None else ("  MET" if met else "  MISSED")
    return f"   {name:<46} {value:6.3f}   (target {target}){outcome}"


def _timed_worker(make, queue, duration):
    """In a forked process: L{_worker}'s run, with this process's own CPU time over it."""
    try:
        run = make(0)
    except BaseException as e:  # noqa: BLE001 - whatever failed is the worker's report
        queue.put((0, 1, [], 0.0, 0.0, f"prepare: {e!r}"))
        return
    start, cpu = time.monotonic(), time.process_time()
    requests, errors, latencies, first_error = run(start + duration)
    queue.put((requests, errors, latencies, time.monotonic() - start,
               time.process_time() - cpu, first_error))


def run_client_process(variant: str, make, duration: float) -> RunResult:
    """
    Fork one process running C{make(0)}'s C{run} (which may use threads)
    for C{duration} seconds; its result, whose C{server_cpu} is the CPU
    time of that client process itself over the run: the cost of a
    library's calls, to set against a server's CPU for the same work.
    """
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    process = context.Process(target=_timed_worker, args=(make, queue, duration), daemon=True)
    process.start()
    requests, errors, latencies, seconds, cpu, first_error = queue.get(timeout=duration + 300)
    process.join(timeout=30)
    return RunResult(variant, requests, errors, seconds, latencies, cpu, first_error=first_error)

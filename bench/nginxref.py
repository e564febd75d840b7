"""
The C reference of the handshake benchmark: Debian's unmodified nginx
verifying the same RFC 3820 proxy chains as occid, with the same host
certificate, CA, CRLs and TLS settings.

OpenSSL 3 accepts proxy certificates only with C{X509_V_FLAG_ALLOW_PROXY_CERTS},
which nginx never sets; the LD_PRELOAD shim kept outside the repository
(C{../shared/tools/nginx-proxy-shim}, its README says why and how) ORs the
flag into each verification.  L{build_shim} compiles it from that source
with gcc into a temporary directory at every run; L{Nginx} runs one
single-process nginx with it, serving one static file with the same bytes
occid answers, with and without verifying a client certificate, and stops
it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time

from bench import common

#: The shim's C source, in its directory.
SHIM_SOURCE = "allow_proxy_shim.c"


class Missing(Exception):
    """A tool or file the reference needs is not there (the message says which and how to get it)."""


def nginx_binary() -> str:
    """The nginx executable; L{Missing} when it is not installed."""
    path = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)
    if path is None:
        raise Missing("nginx is not installed (apt-get install nginx-light)")
    return path


def build_shim(source_dir: str, directory: str) -> str:
    """
    Compile the shim of C{source_dir} into C{directory}; return the
    library's path.

    @raise Missing: no source there, or no gcc / OpenSSL headers.
    """
    source = os.path.join(source_dir, SHIM_SOURCE)
    if not os.path.isfile(source):
        raise Missing(f"no {SHIM_SOURCE} in {source_dir} (give its directory with --shim-source)")
    gcc = shutil.which("gcc")
    if gcc is None:
        raise Missing("gcc is not installed (apt-get install gcc libssl-dev)")
    library = os.path.join(directory, "allow_proxy_shim.so")
    built = subprocess.run([gcc, "-shared", "-fPIC", "-O2", "-o", library, source, "-ldl"],
                           capture_output=True, text=True, check=False)
    if built.returncode != 0:
        raise Missing(f"the shim did not build (libssl-dev missing?): {built.stderr.strip()}")
    return library


def bundle(paths: list[str], target: str) -> str:
    """Concatenate the PEM files C{paths} into C{target}; return it."""
    with open(target, "wb") as out:
        for path in paths:
            with open(path, "rb") as f:
                out.write(f.read().rstrip(b"\n") + b"\n")
    return target


def free_port() -> int:
    """A TCP port on 127.0.0.1 free at this moment."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_CONFIG = """\
daemon off;
master_process off;
worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {directory}/body;
    proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;
    ssl_certificate {host_cert};
    ssl_certificate_key {host_key};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache off;
    ssl_session_tickets off;
    default_type text/plain;
    root {root};
    server {{
        listen 127.0.0.1:{port} ssl backlog=512;
        ssl_verify_client on;
        ssl_verify_depth 10;
        ssl_client_certificate {cas};
        ssl_crl {crls};
        location = {path} {{
            try_files /{body} =404;
        }}
    }}
    server {{
        listen 127.0.0.1:{plain_port} ssl backlog=512;
        location = {path} {{
            try_files /{body} =404;
        }}
    }}
}}
"""


class Nginx:
    """
    One nginx process (no master, one worker loop) with the shim preloaded,
    answering C{GET path} with the file C{body} on two ports of 127.0.0.1:
    C{port} requires and verifies a client certificate, C{plain_port} asks
    for none (nginx's floor).
    """

    def __init__(self, directory: str, shim: str, host_cert: str, host_key: str,
                 cas: str, crls: str, path: str, body: str):
        self.directory = directory
        self.shim = shim
        self.port = free_port()
        self.plain_port = free_port()
        self.config = os.path.join(directory, "nginx.conf")
        with open(self.config, "w", encoding="utf-8") as f:
            f.write(_CONFIG.format(directory=directory, port=self.port, plain_port=self.plain_port,
                                   host_cert=host_cert,
                                   host_key=host_key, cas=cas, crls=crls, path=path,
                                   root=os.path.dirname(body), body=os.path.basename(body)))
        self.process: subprocess.Popen | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 15.0) -> None:
        """Start it and wait until it accepts connections."""
        env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin"), "LD_PRELOAD": self.shim}
        self.process = subprocess.Popen(
            [nginx_binary(), "-e", os.path.join(self.directory, "error.log"), "-c", self.config],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited {self.process.returncode}: "
                                   f"{self.process.stderr.read().strip()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"nginx did not listen on port {self.port} within {timeout:g} s")

    def errors(self) -> str:
        """The end of its error log."""
        with open(os.path.join(self.directory, "error.log"), encoding="utf-8", errors="replace") as f:
            return f.read()[-600:]

    def stop(self) -> None:
        """Stop it (SIGTERM, then SIGKILL if it lingers)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            common.terminate(self.process)
        self.process.stderr.close()
        self.process = None


def nginx_version() -> str:
    """What C{nginx -v} says, e.g. C{nginx/1.22.1}."""
    shown = subprocess.run([nginx_binary(), "-v"], capture_output=True, text=True, check=False)
    return shown.stderr.strip().rpartition(": ")[2] or "nginx"

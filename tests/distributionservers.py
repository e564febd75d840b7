"""
Servers for the appliance distribution tests, on 127.0.0.1 and stopping
themselves: Debian's C{docker-registry} with a temporary configuration on
a free port (artefacts pushed with the C{oras} SDK, annotations included),
and an HTTPS file server with the test CA's host certificate (image lists
and disks); small sparse qcow2 disks made with C{qemu-img}.
"""

from __future__ import annotations

import hashlib
import json
import os
import ssl
import subprocess
import threading
import time
import urllib.request
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import oras.client

from occid.demo.pki import free_port

REGISTRY_CONFIG = """version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
"""


class Registry:
    """C{docker-registry serve} in a subprocess; C{host} is C{127.0.0.1:<port>}."""

    def __init__(self, directory: str):
        self.directory = directory
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.host}"
        self._process: subprocess.Popen | None = None

    def start(self) -> None:
        config = os.path.join(self.directory, "registry.yml")
        with open(config, "w") as f:
            f.write(REGISTRY_CONFIG.format(root=os.path.join(self.directory, "data"),
                                           port=self.port))
        self._process = subprocess.Popen(["docker-registry", "serve", config],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(self.url + "/v2/", timeout=2).read()
                return
            except OSError:
                if time.monotonic() > deadline or self._process.poll() is not None:
                    self.stop()
                    raise RuntimeError("docker-registry did not start") from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None

    def push(self, repository: str, tag: str, disk: str, annotations: dict) -> None:
        """Push C{disk} as C{repository:tag} with manifest C{annotations}."""
        annotation_file = disk + ".annotations.json"
        with open(annotation_file, "w") as f:
            json.dump({"$manifest": annotations}, f)
        client = oras.client.OrasClient(hostname=self.host, insecure=True)
        answer = client.push(target=f"{self.host}/{repository}:{tag}", files=[disk],
                             annotation_file=annotation_file, disable_path_validation=True)
        assert answer.status_code == 201

    def blob_path(self, digest: str) -> str:
        """Where the registry stores blob C{digest} (to corrupt it)."""
        hexdigest = digest.split(":", 1)[1]
        return os.path.join(self.directory, "data", "docker", "registry", "v2", "blobs",
                            "sha256", hexdigest[:2], hexdigest, "data")


class FileServer:
    """An HTTPS server of C{directory} on 127.0.0.1 with the given host certificate."""

    def __init__(self, directory: str, certificate: str, key: str):
        handler = partial(_Quiet, directory=directory)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certificate, key)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


def make_qcow2(path: str, data_mib: int = 2, size: str = "1G", seed: int = 1) -> bytes:
    """
    A sparse qcow2 disk of C{size} at C{path} with C{data_mib} MiB of
    pseudo-random data at its start and one block near 300 MiB; its raw form.
    """
    raw = path + ".raw"
    subprocess.run(["qemu-img", "create", "-f", "raw", raw, size], check=True,
                   capture_output=True)
    with open(raw, "r+b") as f:
        f.write(_data(seed, data_mib << 20))
        f.seek(300 << 20)
        f.write(_data(seed + 1, 4096))
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, path], check=True,
                   capture_output=True)
    return raw


def _data(seed: int, size: int) -> bytes:
    """C{size} bytes of data depending on C{seed}, never a zero block."""
    block = hashlib.sha512(str(seed).encode()).digest()
    return (block * (size // len(block) + 1))[:size]

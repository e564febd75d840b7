"""
The README's user-guide examples run as written against the demo: every
C{sh} block between the C{<!-- demo-examples -->} and C{<!-- /demo-examples -->}
markers, in order, in one bash with C{set -euo pipefail}, against
C{twistd -n occid --demo}; and what they create they delete.
"""

from __future__ import annotations

import os
import re
import subprocess
import tomllib
from pathlib import Path

import boto3

from occid.demo.pki import free_port
from occid.demo.preparation import REGION
from occid.ec2.tags import OWNER_TAG
from tests.daemon import REPO
from tests.test_demo import RunningDemo, needs_curl

README = os.path.join(REPO, "README.md")
BEGIN = "<!-- demo-examples"
END = "<!-- /demo-examples -->"

#: The endpoint the README gives for the demo; the test's demo listens on a free port instead.
README_DEMO_URL = "https://localhost:11443"

#: How long the examples may take, all together.
EXAMPLES_TIMEOUT = 60


def demo_blocks(text: str) -> list[tuple[int, str]]:
    """The C{sh} blocks between the markers: (line in the README, content)."""
    start = text.index(BEGIN)
    end = text.index(END, start)
    blocks = []
    for match in re.finditer(r"^```sh\n(.*?)^```$", text[start:end], flags=re.MULTILINE | re.DOTALL):
        line = text.count("\n", 0, start + match.start()) + 2
        blocks.append((line, match.group(1)))
    return blocks


def without_rocci(block: str) -> tuple[str, int]:
    """
    C{block} without its C{occi_cli} commands (with their continuation
    lines), which need rOCCI-cli and name resources by placeholder ids; and
    how many were left out.  The C{occi_cli()} definition stays.
    """
    kept: list[str] = []
    dropped = 0
    continued = False
    for line in block.splitlines():
        if continued or line.startswith("occi_cli "):
            dropped += not continued
            continued = line.endswith("\\")
            continue
        kept.append(line)
    return "\n".join(kept) + "\n", dropped


def script(blocks: list[tuple[int, str]], url: str) -> str:
    """One bash script running C{blocks} in order, each announced by its README line."""
    parts = ["set -euo pipefail\n", "PS4='+ '\n"]
    for line, block in blocks:
        commands, _ = without_rocci(block)
        parts.append(f"echo '@@block at README line {line}'\nset -x\n"
                     f"{commands.replace(README_DEMO_URL, url)}set +x\n")
    parts.append("echo '@@all blocks ran'\n")
    return "".join(parts)


def leftovers(directory: str) -> dict[str, list[str]]:
    """
    The instances (not terminated), volumes, elastic IPs, snapshots and
    images of occid's (tagged C{occid:owner}) in the demo's emulator.
    """
    with open(os.path.join(directory, "occid.toml"), "rb") as f:
        endpoint = tomllib.load(f)["aws"]["endpoint_url"]
    ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=endpoint,
                       aws_access_key_id="demo", aws_secret_access_key="demo")
    instances = [instance["InstanceId"]
                 for reservation in ec2.describe_instances()["Reservations"]
                 for instance in reservation["Instances"]
                 if instance["State"]["Name"] not in ("terminated", "shutting-down")]
    return {
        "instances": instances,
        "volumes": [volume["VolumeId"] for volume in ec2.describe_volumes()["Volumes"]],
        "addresses": [address["PublicIp"] for address in ec2.describe_addresses()["Addresses"]],
        "snapshots": [snapshot["SnapshotId"]
                      for snapshot in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]
                      if any(tag["Key"] == OWNER_TAG for tag in snapshot.get("Tags", ()))],
        "images": [image["ImageId"] for image in ec2.describe_images(Owners=["self"])["Images"]
                   if any(tag["Key"] == OWNER_TAG for tag in image.get("Tags", ()))],
    }


def test_blocks_are_found():
    """The markers enclose the user guide's examples, from the definitions to the delete."""
    blocks = demo_blocks(Path(README).read_text(encoding="utf-8"))
    assert len(blocks) >= 10
    assert "occi_curl()" in blocks[0][1]
    assert README_DEMO_URL in blocks[1][1] and "occid-demo" in blocks[1][1]
    assert 'occi_curl -X DELETE "$VM"' in blocks[-1][1]


def test_blocks_parse_with_their_rocci_lines():
    """The blocks, occi_cli lines included, are valid bash (the test runs them without those)."""
    blocks = demo_blocks(Path(README).read_text(encoding="utf-8"))
    result = subprocess.run(["bash", "-n", "-c", "\n".join(block for _, block in blocks)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert result.returncode == 0, result.stdout


def test_without_rocci_drops_whole_commands():
    """A multi-line occi_cli command goes with its continuation lines; the function definition stays."""
    block = ("occi_cli()  { occi \"$@\"; }\n"
             "occi_curl a\n"
             "occi_cli --action create \\\n  --mixin x \\\n  --link y\n"
             "occi_curl b\n"
             "occi_cli --action list\n")
    assert without_rocci(block) == ("occi_cli()  { occi \"$@\"; }\nocci_curl a\nocci_curl b\n", 2)


@needs_curl
def test_readme_examples_run_against_the_demo(tmp_path):
    """
    The user guide's curl examples each succeed (occi_curl fails on an
    HTTP error), run unchanged but for the demo's port, in order, in one
    shell, in the directory holding C{occid-demo/}; afterwards the emulator
    holds no VM, volume, elastic IP, snapshot or saved image of theirs.
    """
    blocks = demo_blocks(Path(README).read_text(encoding="utf-8"))
    directory = str(tmp_path / "occid-demo")
    port = free_port()
    running = RunningDemo(directory, port)
    try:
        running.instructions()
        before = leftovers(directory)
        result = subprocess.run(
            ["bash", "-c", script(blocks, f"https://localhost:{port}")], cwd=str(tmp_path),
            env={k: v for k, v in os.environ.items() if k != "X509_USER_PROXY"},
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, timeout=EXAMPLES_TIMEOUT,
        )
        after = leftovers(directory)
    finally:
        log = running.stop()
    started = re.findall(r"^@@block at README line (\d+)", result.stdout, flags=re.MULTILINE)
    assert result.returncode == 0 and "@@all blocks ran" in result.stdout, \
        f"the block at README line {started[-1] if started else '?'} failed:\n" \
        f"{result.stdout[-6000:]}\noccid's log:\n{log[-3000:]}"
    assert len(started) == len(blocks)
    assert before == {"instances": [], "volumes": [], "addresses": [], "snapshots": [],
                      "images": []}
    assert after == before, "the README's examples leave these behind"

"""
The wheel carries what a site admin installs besides the code: the sample
configuration and the systemd units, as data files under C{share/occid}.
"""

import os
import shutil
import subprocess
import sys
import zipfile

from tests.daemon import REPO

#: What the tree copied for the build leaves out: the VCS, caches, build output.
IGNORED = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__",
                                 ".pytest_cache", ".hypothesis", ".ruff_cache", ".mypy_cache",
                                 "occid-demo", "_trial_temp")


def git(tree, *args):
    """The output of git C{args} in C{tree}."""
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@localhost", *args],
                          cwd=tree, check=True, timeout=60, capture_output=True, text=True).stdout


def test_wheel_ships_configuration_and_units(tmp_path):
    """
    C{pip wheel .} of a copy of the tree holds etc/occid.toml and every unit
    in systemd/, and leaves nothing in the tree that git would see.
    """
    tree = tmp_path / "tree"
    shutil.copytree(REPO, tree, ignore=IGNORED)
    git(tree, "init", "-q")
    git(tree, "add", "-A")
    git(tree, "commit", "-qm", "the tree")
    out = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), "."],
                   cwd=tree, check=True, timeout=300, stdin=subprocess.DEVNULL,
                   capture_output=True)
    assert git(tree, "status", "--porcelain") == ""
    [wheel] = os.listdir(out)
    with zipfile.ZipFile(out / wheel) as archive:
        names = archive.namelist()
        data = [name.split(".data/data/", 1)[1] for name in names if ".data/data/" in name]
        sample = next(name for name in names if name.endswith("share/occid/etc/occid.toml"))
        with open(os.path.join(REPO, "etc", "occid.toml"), "rb") as f:
            assert archive.read(sample) == f.read()
    units = sorted(f"share/occid/systemd/{name}" for name in os.listdir(os.path.join(REPO, "systemd")))
    assert sorted(data) == ["share/occid/etc/occid.toml", *units]

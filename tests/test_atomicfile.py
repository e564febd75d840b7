"""L{occid.atomicfile}: a file replaced whole, with its mode, in a directory made for it."""

from __future__ import annotations

import os
import stat

from occid.atomicfile import write_file


def test_new_file_in_a_new_private_directory(tmp_path):
    """A missing directory is made private; the file gets the mode asked for."""
    path = tmp_path / "made" / "key.pem"
    write_file(str(path), b"secret", 0o600)
    assert path.read_bytes() == b"secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_replaced_whole_without_leftovers(tmp_path):
    """A second write replaces the file (a new inode: readers holding the old one keep it)."""
    path = tmp_path / "catalogue.json"
    write_file(str(path), b"old")
    with open(path, "rb") as reader:
        write_file(str(path), b"new")
        assert reader.read() == b"old"
    assert path.read_bytes() == b"new"
    assert os.listdir(tmp_path) == ["catalogue.json"]

# -*- test-case-name: tests.test_preflight -*-
"""
The checks run once at start, before the reactor: read C{occid.toml}, parse
it with the pure L{occid.config.parse}, then look at what it names on this
machine: the host certificate and its key (readable, PEM, unencrypted,
matching), the trust dir and vomsdir (readable directories) and the ban
list (readable and well formed, when set), the coordination directory
(writable, when set).  The AWS
profiles are the EC2 edge's to check (L{occid.ec2.profiles}); C{tap.py}
runs both.  Every problem is a
L{occid.config.ConfigError} with one message naming the file, the key and
the problem, which twistd prints before it listens.
"""

from __future__ import annotations

import os

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes

from occid.config import Config, ConfigError, parse
from occid.server.banlist import BanList

__all__ = ["check", "load", "read", "read_certificate"]


def load(path: str) -> Config:
    """
    Read, parse and check the configuration file at C{path}.

    @raise ConfigError: the file is missing, unreadable or invalid, or names
        files that cannot be used.
    """
    config = read(path)
    check(config)
    return config


def read(path: str) -> Config:
    """
    Read and parse the configuration file at C{path}, without looking at the
    files it names (a site command needs only some of them).

    @raise ConfigError: the file is missing, unreadable or invalid.
    """
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise ConfigError(path, "(file)", f"cannot read: {e.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(path, "(file)", "not UTF-8 text") from None
    return parse(text, path)


def check(config: Config) -> None:
    """
    Check the files that the parsed C{config} names.

    @raise ConfigError: the first one that cannot be used.
    """
    server, grid = config.server, config.grid
    cert = read_certificate(config.path, "[server] host_cert", server.host_cert)
    key = _read_private_key(config.path, "[server] host_key", server.host_key)
    if _public_der(cert.public_key()) != _public_der(key.public_key()):
        raise ConfigError(
            config.path, "[server] host_key", f"does not match the certificate in {server.host_cert}"
        )
    for name in ("ca_dir", "vomsdir"):
        directory = getattr(grid, name)
        if not os.path.isdir(directory):
            raise ConfigError(config.path, f"[grid] {name}", f"{directory} is not a directory")
        if not os.access(directory, os.R_OK | os.X_OK):
            raise ConfigError(config.path, f"[grid] {name}", f"{directory} is not readable")
    if grid.banned:
        try:
            BanList.read(grid.banned)
        except OSError as e:
            raise ConfigError(config.path, "[grid] banned",
                              f"cannot read {grid.banned}: {e.strerror}") from None
        except ValueError as e:
            raise ConfigError(config.path, "[grid] banned", str(e)) from None
    directory = server.coordination_dir
    if directory and not (os.path.isdir(directory) and os.access(directory, os.W_OK | os.X_OK)):
        raise ConfigError(config.path, "[server] coordination_dir",
                          f"{directory} is not a directory occid can write in (the lock file "
                          "of the reconciler goes there; systemd's RuntimeDirectory= makes one)")


def _public_der(key: PublicKeyTypes) -> bytes:
    """The DER SubjectPublicKeyInfo of C{key}: equal for a certificate and its own key."""
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def read_certificate(path: str, key: str, filename: str) -> x509.Certificate:
    """The first PEM certificate in C{filename}."""
    data = _read_file(path, key, filename)
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError:
        raise ConfigError(path, key, f"{filename} holds no PEM certificate") from None


def _read_private_key(path: str, key: str, filename: str) -> PrivateKeyTypes:
    """The unencrypted PEM private key in C{filename}."""
    data = _read_file(path, key, filename)
    try:
        return serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise ConfigError(path, key, f"{filename} is encrypted; occid needs it unencrypted") from None
    except ValueError:
        raise ConfigError(path, key, f"{filename} holds no PEM private key") from None


def _read_file(path: str, key: str, filename: str) -> bytes:
    """The bytes of C{filename}, named by C{key} of the configuration at C{path}."""
    try:
        with open(filename, "rb") as f:
            return f.read()
    except OSError as e:
        raise ConfigError(path, key, f"cannot read {filename}: {e.strerror}") from None

# -*- test-case-name: tests.test_config -*-
"""
The modes a site chooses in C{occid.toml}, one StrEnum per key that takes a
word: who sees what in an account, which AMIs are offered, how CRLs are
required, what a limited proxy may do, which launches can hibernate
(C{[aws] hibernation}).  Pure core; L{occid.config} parses the file into
them, and the dataclasses holding a mode L{coerce} the word given to them
into its member.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["CrlMode", "Hibernation", "ImagePolicy", "LimitedProxies", "Visibility", "coerce"]


def coerce(instance: object, name: str, mode: type[StrEnum]) -> None:
    """Turn the string in field C{name} of a frozen dataclass into a C{mode} member."""
    object.__setattr__(instance, name, mode(getattr(instance, name)))


class Visibility(StrEnum):
    """
    What a principal sees and changes inside its account.  A file sets
    L{OWNER} or L{VO}; L{MANAGER} is granted by C{manager_fqans}.
    """

    OWNER = "owner"  # its own resources (tag occid:owner)
    VO = "vo"  # everything its VO created (tag occid:vo)
    MANAGER = "manager"  # every instance and volume in the account


class ImagePolicy(StrEnum):
    """C{[images] policy}: which AMIs are offered as os_tpl mixins."""

    ALL = "all"  # every machine image the region offers
    OWNED = "owned"  # the account's own images
    LISTED = "listed"  # the images of C{[images] list}
    OWNED_AND_LISTED = "owned_and_listed"

    @property
    def uses_owned(self) -> bool:
        """Whether the account's own images are offered."""
        return self in (ImagePolicy.OWNED, ImagePolicy.OWNED_AND_LISTED)

    @property
    def uses_list(self) -> bool:
        """Whether the images of C{[images] list} are offered."""
        return self in (ImagePolicy.LISTED, ImagePolicy.OWNED_AND_LISTED)


class CrlMode(StrEnum):
    """C{[grid] crl}: how certificate revocation lists are required."""

    REQUIRE = "require"  # every CA must have a current CRL
    IF_VALID = "if-valid"  # a CRL present must be valid; a missing one is noted
    OFF = "off"  # OpenSSL is not asked for CRLs (tests only)


class LimitedProxies(StrEnum):
    """C{[grid] limited_proxies}: what a limited proxy may do."""

    REFUSE = "refuse"  # 403 on everything
    READ_ONLY = "read-only"  # may read, never write


class Hibernation(StrEnum):
    """C{[aws] hibernation}: which launches are made able to hibernate (suspend)."""

    NEVER = "never"  # none; the hibernation mixin and suspend are not offered
    ON_REQUEST = "on-request"  # those asking with the hibernation mixin
    ALWAYS = "always"  # every launch whose type and image can hibernate

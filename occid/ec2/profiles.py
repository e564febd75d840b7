# -*- test-case-name: tests.test_preflight -*-
"""
The AWS-profile check run at start (by L{occid.server.preflight}): every
C{profile} an account names must exist in the shared AWS config or
credentials files of the user running occid.  Blocking (botocore reads those
files); never called once the reactor runs.
"""

from __future__ import annotations

import botocore.session

from occid.config import Config, ConfigError

__all__ = ["check_profiles"]


def check_profiles(config: Config) -> None:
    """
    Check that the AWS profile of every account of C{config} is known.

    @raise ConfigError: naming the first account whose profile is missing.
    """
    if not any(account.profile for account in config.accounts):
        return
    known = set(botocore.session.Session().available_profiles)
    for i, account in enumerate(config.accounts):
        if account.profile and account.profile not in known:
            raise ConfigError(
                config.path,
                f"accounts[{i}].profile",
                f"no AWS profile {account.profile!r} in the shared AWS config or "
                "credentials files of the user running occid",
            )

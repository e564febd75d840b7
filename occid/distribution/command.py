# -*- test-case-name: tests.test_distribution_command -*-
"""
The C{occid-images} console script: reads C{occid.toml} (the same file and
checks as the daemon), then runs passes (L{occid.distribution.sync}) over
its C{[[images.sources]]}; C{--once} runs one and exits (what the systemd
timer does), C{--dry-run} says what a pass would import, replace and
remove without changing anything.  One run at a time: a lock file in
C{work_dir}.  Exit status: 0, 1 when something was refused or failed, 2 for
a bad configuration or a run already in progress.
"""

from __future__ import annotations

import argparse
import fcntl
import logging
import os
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime

from occid.config import DEFAULT_PATH, Config, ConfigError, parse
from occid.distribution.fetch import Http
from occid.distribution.sync import Report, Target, run_pass
from occid.ec2.clients import account_session, build_clients, client_config
from occid.gsi.trust import TrustStore

__all__ = ["main"]

log = logging.getLogger("occid.images")


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="occid-images",
        description="Import the appliances of occid.toml's [[images.sources]] as AMIs.")
    parser.add_argument("--config", default=DEFAULT_PATH, help=f"default {DEFAULT_PATH}")
    parser.add_argument("--once", action="store_true", help="one pass, then exit")
    parser.add_argument("--dry-run", action="store_true",
                        help="say what would be imported, replaced and removed; change nothing")
    parser.add_argument("--every", type=float, default=3600.0,
                        help="seconds between passes without --once (default 3600)")
    return parser.parse_args(argv)


def target_maker(config: Config):
    """C{make(account, region)}: a L{Target} with clients built from the account's credentials."""
    def make(account: str, region: str) -> Target:
        aws = replace(config.aws, region=region)
        ec2 = build_clients(config, region)[account]
        threads = config.images.distribution.upload_threads
        boto = client_config(aws).merge(
            client_config(aws).__class__(max_pool_connections=max(threads, 10)))
        ebs = account_session(aws, config.account(account)).client(
            "ebs", endpoint_url=aws.endpoint_url or None, config=boto)
        return Target(account, region, ec2, ebs)

    return make


def one_pass(config: Config, dry_run: bool) -> Report:
    """A pass now, with the trust directory as it is now."""
    now = datetime.now(UTC)
    trust = TrustStore.load(config.grid.ca_dir, now)
    return run_pass(config, target_maker(config), Http(config.grid.ca_dir), trust, now, dry_run)


def main(argv: list[str] | None = None) -> int:
    """Run the command; the exit status."""
    options = arguments(argv)
    logging.basicConfig(level=logging.INFO, format="occid-images: %(levelname)s: %(message)s",
                        stream=sys.stderr)
    logging.getLogger("botocore").setLevel(logging.WARNING)
    try:
        with open(options.config, encoding="utf-8") as f:
            config = parse(f.read(), options.config)
    except (OSError, ConfigError) as e:
        log.error("%s", e)
        return 2
    if not config.images.sources:
        log.info("%s: no [[images.sources]]: nothing to do", options.config)
        return 0
    work = config.images.distribution.work_dir
    try:
        os.makedirs(work, exist_ok=True)
        lock = open(os.path.join(work, ".lock"), "w")  # noqa: SIM115 - held for the run
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        log.error("%s: cannot take the lock (another run?): %s", work, e)
        return 2
    while True:
        report = one_pass(config, options.dry_run)
        log.info("pass done: %d imported, %d retired, %d restored, %d removed, "
                 "%d leftovers deleted, %d refused%s", len(report.imported), len(report.retired),
                 len(report.restored), len(report.removed), len(report.orphans),
                 len(report.refused), " (dry run: nothing changed)" if options.dry_run else "")
        if options.once or options.dry_run:
            return 1 if report.refused else 0
        time.sleep(options.every)


if __name__ == "__main__":
    sys.exit(main())

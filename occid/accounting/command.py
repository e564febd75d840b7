# -*- test-case-name: tests.test_accounting_run -*-
"""
The console script C{occid-accounting}: one run over every account and
region of C{occid.toml} (L{occid.accounting.run}), its messages into the
dirq spools of C{[accounting]}, or printed with C{--dry-run};
C{--from}/C{--to} re-send a past period.  A systemd timer runs it every
15 minutes (C{systemd/occid-accounting.timer}).

Exit status: 0 after a run (gaps and vanished instances are reported on
standard error, not failures), 1 when an account could not be read, 2 for
a bad command line or configuration (one line naming file and key).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import TextIO

from occid import __version__
from occid.accounting.cache import Cache
from occid.accounting.records import Site
from occid.accounting.run import Period, Report, Target, run
from occid.accounting.spool import Printed, Spools
from occid.accountingconfig import AccountingConfig
from occid.config import DEFAULT_PATH, Config, ConfigError
from occid.ec2.clients import build_clients, make_service_client
from occid.ec2.profiles import check_profiles
from occid.server.preflight import read

__all__ = ["main", "site_of", "targets"]

#: The producer named in every record.
CLOUD_TYPE = f"occid/{__version__} (AWS EC2)"


def _moment(text: str) -> int:
    """An ISO 8601 date or time (UTC unless it says otherwise) as epoch seconds."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date such as 2026-11-01 "
                                         "or 2026-11-01T00:00:00Z") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def parser() -> argparse.ArgumentParser:
    """The command line."""
    commands = argparse.ArgumentParser(
        prog="occid-accounting",
        description="Write APEL cloud, STAR and public IP records of occid's AWS accounts "
                    "into the dirq spools ssmsend ships to EGI.")
    commands.add_argument("--config", default=DEFAULT_PATH, help="occid.toml (default: %(default)s)")
    commands.add_argument("--dry-run", action="store_true",
                          help="print the messages; write no spool, tag or cache")
    commands.add_argument("--from", dest="start", type=_moment,
                          help="re-send the records of what was alive since then (with --to)")
    commands.add_argument("--to", dest="end", type=_moment,
                          help="re-send the records as of then (default with --from: now)")
    return commands


def site_of(config: Config, accounting: AccountingConfig) -> Site:
    """What every record of this site says."""
    return Site(name=accounting.site_name, service=accounting.service or config.server.public_host,
                endpoint=config.server.public_url.rstrip("/"), cloud_type=CLOUD_TYPE,
                benchmark_type=accounting.benchmark_type)


def _vo(patterns: tuple[str, ...]) -> str | None:
    """The VO of the first FQAN pattern, if any."""
    return patterns[0].strip("/").split("/")[0] if patterns else None


def targets(config: Config, accounting: AccountingConfig) -> list[Target]:
    """Every account in every region it is served in, with its clients (made here, once)."""
    found = []
    for region in config.aws.regions:
        clients = build_clients(config, region)
        for account in config.accounts:
            if account.name not in clients:
                continue
            cloudwatch = (make_service_client(replace(config.aws, region=region), account,
                                              "cloudwatch") if accounting.cloudwatch else None)
            found.append(Target(
                account=account.name, region=region, client=clients[account.name],
                default_vo=_vo(account.fqans),
                suffix="" if region == config.aws.region else f".{region}",
                cloudwatch=cloudwatch))
    return found


def main(argv: Sequence[str] | None = None, clock: Callable[[], float] = time.time,
         out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Run the command; the exit status."""
    arguments = parser().parse_args(argv)
    now = int(clock())
    period = None
    if arguments.start is not None or arguments.end is not None:
        start = arguments.start if arguments.start is not None else 0
        end = arguments.end if arguments.end is not None else now
        if start >= end:
            print("occid-accounting: --from must be before --to", file=err)
            return 2
        period = Period(start, end)
    try:
        config = read(arguments.config)
        if config.accounting is None:
            raise ConfigError(config.path, "[accounting]",
                              "is required by occid-accounting (site_name at least)")
        check_profiles(config)
    except ConfigError as error:
        print(f"occid-accounting: {error}", file=err)
        return 2
    accounting = config.accounting
    outbox = Printed(out) if arguments.dry_run else Spools(accounting)
    cache = Cache(None if arguments.dry_run else accounting.cache)
    report = run(targets(config, accounting), site_of(config, accounting), accounting, outbox, cache,
                 now, period, **({"write_usage": _no_write} if arguments.dry_run else {}))
    return _summary(report, err, "usage tags to write" if arguments.dry_run else "usage tags written")


def _no_write(*ignored: object) -> None:
    """A dry run writes no tag."""


def _summary(report: Report, err: TextIO, tags: str) -> int:
    for problem in report.problems:
        print(f"occid-accounting: {problem}", file=err)
    counts = ", ".join(f"{count} {kind}" for kind, count in report.records.items())
    print(f"occid-accounting: records {counts}; {tags} {report.tags_written}", file=err)
    return 1 if report.failed else 0


def script() -> None:
    """The C{occid-accounting} entry point."""
    sys.exit(main())

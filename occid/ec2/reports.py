# -*- test-case-name: tests.test_ec2_backend -*-
"""
What a reconciler pass (or a watcher's look, L{occid.ec2.backend}) did in
one account, logged and counted in L{occid.metrics.RECONCILER_ACTIONS}.
"""

from __future__ import annotations

from twisted.logger import Logger

from occid import metrics
from occid.ec2.reconciler import Report


def logged(report: Report, log: Logger, name: str) -> Report:
    """Log what a reconciler pass (or a watcher's look) did in account C{name}."""
    for error in report.errors:
        log.warn("reconciler in {account}: {error}", account=name, error=error)
    for link in report.links_abandoned:
        log.warn("reconciler in {account} gave up the link {link}",
                 account=name, link=link)
    changes = (report.links_made, report.key_pairs_deleted,
               report.addresses_released, report.interfaces_deleted)
    for action, done in (("link_made", report.links_made),
                         ("link_abandoned", report.links_abandoned),
                         ("key_pair_deleted", report.key_pairs_deleted),
                         ("address_released", report.addresses_released),
                         ("interface_deleted", report.interfaces_deleted),
                         ("error", report.errors)):
        if done:
            metrics.RECONCILER_ACTIONS.labels(action).inc(len(done))
    if any(changes):
        log.info(
            "reconciler in {account}: links made {links}, key pairs deleted {keys}, "
            "addresses released {addresses}, interfaces deleted {interfaces}",
            account=name, links=report.links_made, keys=report.key_pairs_deleted,
            addresses=report.addresses_released, interfaces=report.interfaces_deleted)
    return report

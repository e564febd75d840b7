"""Registers the ``occid`` command with twistd; everything else is in occid.tap."""

from twisted.application.service import ServiceMaker

occid = ServiceMaker(
    "occid", "occid.tap", "OCCI gateway to Amazon EC2 for grid users", "occid"
)

# -*- test-case-name: tests.test_demo -*-
"""
The demo's EC2: moto's emulator, run in this process on 127.0.0.1, with
one VPC and subnet to put VMs in.
"""

from __future__ import annotations

import logging
import socket
from typing import TYPE_CHECKING

import boto3
from twisted.application.service import Service
from twisted.internet.interfaces import IReactorCore

from occid.demo.preparation import REGION, Demo

if TYPE_CHECKING:
    from moto.server import ThreadedMotoServer


class EmulatorService(Service):
    """
    moto's EC2 in this process, on 127.0.0.1 at the demo's emulator port,
    with one VPC and subnet made at start; stopped after the reactor has
    shut down, once the EC2 thread pool has finished its calls (stopping it
    earlier would leave those calls retrying against nothing).

    @ivar vpc_id: the VPC made at start.
    """

    def __init__(self, demo: Demo, reactor: IReactorCore):
        self.demo = demo
        self.vpc_id: str | None = None
        self._server: ThreadedMotoServer | None = None
        self._reactor = reactor

    def startService(self) -> None:
        # Imported here: moto reads MOTO_* (set by prepare) when imported.
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        # ThreadedMotoServer waits forever if it cannot bind: fail clearly first.
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", self.demo.emulator_port))
        self._server = server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.demo.emulator_port,
                                                   verbose=False)
        server.start()
        self.vpc_id = create_network(self.demo.emulator_url)
        super().startService()

    def stopService(self) -> None:
        super().stopService()
        self._reactor.addSystemEventTrigger("after", "shutdown", self._stop_server)

    def _stop_server(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


def create_network(endpoint_url: str) -> str:
    """A VPC called C{occid-demo} with one subnet in the emulator; its id."""
    client = boto3.client("ec2", region_name=REGION, endpoint_url=endpoint_url)
    vpc_id: str = client.create_vpc(CidrBlock="10.42.0.0/16", TagSpecifications=[{
        "ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": "occid-demo"}]}])["Vpc"]["VpcId"]
    client.create_subnet(VpcId=vpc_id, CidrBlock="10.42.1.0/24", AvailabilityZone=f"{REGION}a")
    return vpc_id

# -*- test-case-name: tests.test_demo -*-
"""
The embedded default, on top of every other layer: C{twistd -n occid
--demo}, occid on localhost with everything it needs made on the spot; and
the one grid credential factory, which the tests use too.

L{prepare} (L{occid.demo.preparation}) makes, or reuses, a throwaway grid
PKI in the demo directory (L{occid.demo.credentials}, built with the
factory of L{occid.demo.pki} and L{occid.demo.voms}), points the AWS SDK at
an EC2 emulator and writes the C{occid.toml} that the ordinary
C{makeService} then reads.  Nothing in the
demo path bypasses occid: the same TLS, proxy, VOMS, policy and EC2 code
serves it.  L{EmulatorService} runs moto's EC2 in this process on
127.0.0.1 (L{occid.demo.emulator}); L{AnnounceService} prints commands to
try once occid listens (L{occid.demo.announce}).
"""

__all__ = ["announce", "credentials", "emulator", "pki", "preparation", "voms"]

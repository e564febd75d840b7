# -*- test-case-name: tests.test_distribution_command -*-
"""
C{occid-images}: appliances from EGI's Artefact Registry (OCI artefacts with
annotations) or from signed HEPiX image lists become AMIs, in every account
and region that serves the VOs of their source, with the provenance tags
EGI's accounting and discovery read (L{occid.ec2.distributed}).

The pure parts read and check what a source publishes (L{hepix},
L{smime}, L{oci}), describe one appliance (L{appliance}), decide what to
import, retire and remove (L{plan}), name and tag the AMIs
(L{provenance}) and find the blocks worth writing (L{blocks}).  The edges
fetch over HTTP (L{fetch}, L{registry}, L{sources}), convert with
C{qemu-img} (L{convert}), write EBS snapshots (L{ebs}), read and change the
AMIs (L{amis}) and run a pass (L{sync}); L{command} is the console script.
The command is synchronous: it is no part of the daemon.
"""

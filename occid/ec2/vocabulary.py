# -*- test-case-name: tests.test_ec2_vocabulary -*-
"""
The AWS words occid adds to the OCCI categories: the EC2 marker mixins that
carry the C{com.amazon.aws.ec2.*} attributes of instances, volumes and
VPCs, the C{hibernation} mixin a compute create asks for hibernation with,
and the resource_tpl mixins of EC2 instance types, whose scheme is an EC2
one (docs/wire.md).

Pure: no boto3 and no Twisted; the core's categories are in
L{occid.occi.infrastructure}.
"""

from __future__ import annotations

import re

from occid.occi.corekinds import RESOURCE
from occid.occi.infrastructure import COMPUTE, NETWORK, RESOURCE_TPL, STORAGE
from occid.occi.model import Attribute, Kind, Mixin

__all__ = [
    "EC2_INSTANCE",
    "EC2_KINDS",
    "EC2_SCHEME_BASE",
    "EC2_VOLUME",
    "EC2_VPC",
    "HIBERNATION",
    "MARKERS",
    "OCCI_ARCHITECTURES",
    "RESOURCE_TPL_SCHEME",
    "SNAPSHOT",
    "SNAPSHOT_ID",
    "instance_type_of",
    "resource_tpl_mixin",
    "resource_tpl_term",
    "valid_id",
]

EC2_SCHEME_BASE = "http://schemas.ec2.aws.amazon.com/occi/infrastructure/"
RESOURCE_TPL_SCHEME = EC2_SCHEME_BASE + "resource_tpl#"

#: OCCI compute architectures, by EC2 architecture name.
OCCI_ARCHITECTURES = {"x86_64": "x64", "x86_64_mac": "x64", "i386": "x86"}


def _immutable(name: str, description: str, type: str = "string") -> Attribute:
    return Attribute(name=name, type=type, mutable=False, description=description)


EC2_INSTANCE = Mixin(
    term="aws_ec2_instance",
    scheme=EC2_SCHEME_BASE + "compute#",
    title="Amazon EC2 instance",
    location="/mixin/aws_ec2_instance/",
    applies=(COMPUTE,),
    attributes=(
        _immutable("com.amazon.aws.ec2.instance_type", "the EC2 instance type"),
        _immutable("com.amazon.aws.ec2.availability_zone", "the availability zone"),
        _immutable("com.amazon.aws.ec2.state", "the EC2 instance state"),
        _immutable("com.amazon.aws.ec2.private_ip", "the primary private address"),
        _immutable("com.amazon.aws.ec2.public_ip", "the public address, if any"),
        _immutable("com.amazon.aws.ec2.private_dns", "the private DNS name"),
        _immutable("com.amazon.aws.ec2.public_dns", "the public DNS name, if any"),
        _immutable("com.amazon.aws.ec2.key_name", "the key pair launched with"),
        _immutable("com.amazon.aws.ec2.launch_time", "launch time, ISO 8601"),
        _immutable("com.amazon.aws.ec2.vpc_id", "the VPC of the instance"),
        _immutable("com.amazon.aws.ec2.subnet_id", "the subnet of the instance"),
        _immutable("com.amazon.aws.ec2.reservation_id", "the reservation"),
        _immutable("com.amazon.aws.ec2.hypervisor", "the hypervisor"),
        _immutable("com.amazon.aws.ec2.virtualization_type",
                   "hvm or paravirtual"),
    ),
)

#: The snapshot a volume was made from; set on a create to restore it (its
#: id or its C{/snapshot/} location).
SNAPSHOT_ID = Attribute(
    name="com.amazon.aws.ec2.snapshot_id", type="string",
    description="the snapshot it was made from (id or /snapshot/ location); "
                "set at create to restore that snapshot")

EC2_VOLUME = Mixin(
    term="aws_ec2_ebs_volume",
    scheme=EC2_SCHEME_BASE + "storage#",
    title="Amazon EBS volume",
    location="/mixin/aws_ec2_ebs_volume/",
    applies=(STORAGE,),
    attributes=(
        _immutable("com.amazon.aws.ec2.availability_zone", "the availability zone"),
        _immutable("com.amazon.aws.ec2.state", "the EBS volume state"),
        _immutable("com.amazon.aws.ec2.volume_type", "gp3, gp2, io1, standard, ..."),
        _immutable("com.amazon.aws.ec2.iops", "provisioned IOPS", type="integer"),
        _immutable("com.amazon.aws.ec2.encrypted", "whether it is encrypted",
                   type="boolean"),
        SNAPSHOT_ID,
    ),
)

EC2_VPC = Mixin(
    term="aws_ec2_vpc",
    scheme=EC2_SCHEME_BASE + "network#",
    title="Amazon VPC",
    location="/mixin/aws_ec2_vpc/",
    applies=(NETWORK,),
    attributes=(
        _immutable("com.amazon.aws.ec2.state", "the VPC state"),
        _immutable("com.amazon.aws.ec2.instance_tenancy", "default or dedicated"),
        _immutable("com.amazon.aws.ec2.is_default", "whether it is the default VPC",
                   type="boolean"),
    ),
)

#: EBS snapshots of volumes, made by the storage C{snapshot} and C{backup}
#: actions; their scheme is an EC2 one (docs/wire.md).
SNAPSHOT = Kind(
    term="snapshot",
    scheme=EC2_SCHEME_BASE.rstrip("/") + "#",
    title="Amazon EBS snapshot",
    parent=RESOURCE,
    location="/snapshot/",
    attributes=(
        _immutable("com.amazon.aws.ec2.volume_id", "the volume it was taken of"),
        _immutable("com.amazon.aws.ec2.volume_size", "the size of that volume in GiB",
                   type="integer"),
        _immutable("com.amazon.aws.ec2.state", "pending, completed or error"),
        _immutable("com.amazon.aws.ec2.start_time", "when it was started, ISO 8601"),
        _immutable("com.amazon.aws.ec2.progress", "how much is copied, such as 100%"),
    ),
)

#: The kinds occid adds to the core's, in the order every EC2 catalog lists
#: them.
EC2_KINDS = (SNAPSHOT,)

HIBERNATION = Mixin(
    term="hibernation",
    scheme=EC2_SCHEME_BASE + "compute#",
    title="launch able to hibernate: suspend keeps the RAM on an encrypted root volume",
    location="/mixin/hibernation/",
    applies=(COMPUTE,),
)

#: The marker mixins, in the order every EC2 catalog lists them (right
#: after the core's static mixins).
MARKERS = (EC2_INSTANCE, EC2_VOLUME, EC2_VPC)


def resource_tpl_term(instance_type: str) -> str:
    """The resource_tpl term of an EC2 instance type: C{t3.micro} -> C{t3_micro}."""
    return instance_type.replace(".", "_")


def instance_type_of(mixin: Mixin) -> str:
    """The EC2 instance type a resource_tpl mixin stands for: C{t3_micro} -> C{t3.micro}."""
    return mixin.term.replace("_", ".")


def resource_tpl_mixin(
    instance_type: str, cores: int, memory_gib: float, architecture: str | None
) -> Mixin:
    """
    The resource_tpl mixin of one EC2 instance type, whose attributes carry
    the type's cores, memory (GiB) and, when it has an OCCI name (x86 or
    x64; EC2 names such as C{x86_64} are translated), its architecture as
    defaults.  Its title (C{t3.micro - 2 cores and 1.0 GiB RAM}) holds no
    comma: rOCCI-core 4 splits a comma-joined text/occi header on every
    comma, even inside a quoted title.
    """
    term = resource_tpl_term(instance_type)
    memory = float(memory_gib)
    attributes = [
        Attribute(name="occi.compute.cores", type="integer", mutable=False,
                  default=cores, description="number of virtual cores"),
        Attribute(name="occi.compute.memory", type="number", mutable=False,
                  default=memory, description="RAM in GiB"),
    ]
    occi_architecture = OCCI_ARCHITECTURES.get(architecture or "", architecture)
    if occi_architecture in ("x86", "x64"):
        attributes.insert(0, Attribute(
            name="occi.compute.architecture", mutable=False, enum=("x86", "x64"),
            default=occi_architecture, description="CPU architecture",
        ))
    plural = "core" if cores == 1 else "cores"
    return Mixin(
        term=term,
        scheme=RESOURCE_TPL_SCHEME,
        title=f"{instance_type} - {cores} {plural} and {memory} GiB RAM",
        location=f"/mixin/resource_tpl/{term}/",
        depends=(RESOURCE_TPL,),
        applies=(COMPUTE,),
        attributes=tuple(attributes),
    )


def valid_id(prefix: str, id: str) -> bool:
    """Whether C{id} looks like an EC2 id with C{prefix} (C{i}, C{vol}, C{vpc}...)."""
    return re.fullmatch(rf"{prefix}-[0-9a-f]{{8,17}}", id) is not None

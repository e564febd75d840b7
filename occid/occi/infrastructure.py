# -*- test-case-name: tests.test_occi_infrastructure -*-
"""
The OCCI infrastructure categories occid offers, on top of the core kinds
of L{occid.occi.corekinds}: the infrastructure kinds, actions and mixins
(GFD.184 / GFD.224), the contextualization mixins (OGF 1.2 and the
OpenStack ones rOCCI-cli sends), and the constructors of the per-account
os_tpl and availability_zone mixins.  The EC2 marker mixins and the
resource_tpl mixins of instance types, whose schemes are EC2 ones, are in
L{occid.ec2.vocabulary}.

Attributes are the union of OCCI 1.1 and 1.2 (C{occi.compute.speed} from 1.1,
C{occi.compute.share} and the C{*.state.message} attributes from 1.2), so that
clients of either version find what they know.  States are the spec enums
only.  Every mixin has a location, because the OCCI 1.2 JSON schema requires
one.
"""

from __future__ import annotations

from occid.occi.corekinds import ENTITY, LINK, RESOURCE
from occid.occi.model import Action, Attribute, Kind, Mixin

INFRASTRUCTURE = "http://schemas.ogf.org/occi/infrastructure#"


def _action_scheme(kind_term: str) -> str:
    return f"http://schemas.ogf.org/occi/infrastructure/{kind_term}/action#"


def _immutable(name: str, description: str, type: str = "string") -> Attribute:
    return Attribute(name=name, type=type, mutable=False, description=description)


def _method(description: str, *methods: str) -> Attribute:
    return Attribute(name="method", enum=methods, description=description)


# -- actions ---------------------------------------------------------------

def _action(kind_term: str, term: str, title: str, *attributes: Attribute) -> Action:
    return Action(term=term, scheme=_action_scheme(kind_term), title=title,
                  attributes=attributes)


COMPUTE_START = _action("compute", "start", "start compute instance")
COMPUTE_STOP = _action(
    "compute", "stop", "stop compute instance",
    _method("how to stop: graceful, acpioff or poweroff", "graceful", "acpioff", "poweroff"))
COMPUTE_RESTART = _action(
    "compute", "restart", "restart compute instance",
    _method("how to restart: graceful, warm or cold", "graceful", "warm", "cold"))
COMPUTE_SUSPEND = _action(
    "compute", "suspend", "suspend compute instance",
    _method("how to suspend: hibernate or suspend", "hibernate", "suspend"))
COMPUTE_SAVE = _action(
    "compute", "save", "save compute instance as a new os_tpl",
    _method("hot: save the running instance; deferred: when it stops", "hot", "deferred"),
    Attribute(name="name", description="the name of the new image"))

STORAGE_ONLINE = _action("storage", "online", "activate storage")
STORAGE_OFFLINE = _action("storage", "offline", "deactivate storage")
STORAGE_SNAPSHOT = _action("storage", "snapshot", "snapshot storage")
STORAGE_BACKUP = _action("storage", "backup", "backup storage (OCCI 1.1)")
STORAGE_RESIZE = _action(
    "storage", "resize", "resize storage",
    Attribute(name="size", type="number", required=True, description="new size in GiB"))

NETWORK_UP = _action("network", "up", "activate network")
NETWORK_DOWN = _action("network", "down", "deactivate network")

# -- infrastructure kinds --------------------------------------------------

COMPUTE = Kind(
    term="compute",
    scheme=INFRASTRUCTURE,
    title="compute resource",
    parent=RESOURCE,
    location="/compute/",
    attributes=(
        Attribute(
            name="occi.compute.architecture",
            enum=("x86", "x64"),
            description="CPU architecture: x86 or x64",
        ),
        Attribute(name="occi.compute.cores", type="integer",
                  description="number of virtual cores"),
        Attribute(name="occi.compute.hostname", description="DNS host name"),
        Attribute(name="occi.compute.speed", type="number",
                  description="CPU clock in GHz (OCCI 1.1)"),
        Attribute(name="occi.compute.share", type="integer",
                  description="relative number of CPU shares (OCCI 1.2)"),
        Attribute(name="occi.compute.memory", type="number",
                  description="RAM in GiB"),
        Attribute(
            name="occi.compute.state",
            mutable=False,
            enum=("active", "inactive", "suspended", "error"),
            description="current state: active, inactive, suspended or error",
        ),
        _immutable("occi.compute.state.message", "why the compute is in its state"),
    ),
    actions=(COMPUTE_START, COMPUTE_STOP, COMPUTE_RESTART, COMPUTE_SUSPEND,
             COMPUTE_SAVE),
)

STORAGE = Kind(
    term="storage",
    scheme=INFRASTRUCTURE,
    title="storage resource",
    parent=RESOURCE,
    location="/storage/",
    attributes=(
        Attribute(name="occi.storage.size", type="number", required=True,
                  description="size in GiB"),
        Attribute(
            name="occi.storage.state",
            mutable=False,
            enum=("online", "offline", "backup", "snapshot", "resize",
                  "degraded", "error"),
            description="current state (OCCI 1.1 and 1.2 values)",
        ),
        _immutable("occi.storage.state.message", "why the storage is in its state"),
    ),
    actions=(STORAGE_ONLINE, STORAGE_OFFLINE, STORAGE_BACKUP, STORAGE_SNAPSHOT,
             STORAGE_RESIZE),
)

NETWORK = Kind(
    term="network",
    scheme=INFRASTRUCTURE,
    title="network resource",
    parent=RESOURCE,
    location="/network/",
    attributes=(
        Attribute(name="occi.network.vlan", type="integer",
                  description="802.1q VLAN identifier, 0 to 4095"),
        Attribute(name="occi.network.label", pattern=r"[A-Za-z0-9_.-]+",
                  description="a token labelling the network"),
        Attribute(
            name="occi.network.state",
            mutable=False,
            enum=("active", "inactive", "error"),
            description="current state: active, inactive or error",
        ),
        _immutable("occi.network.state.message", "why the network is in its state"),
    ),
    actions=(NETWORK_UP, NETWORK_DOWN),
)

NETWORKINTERFACE = Kind(
    term="networkinterface",
    scheme=INFRASTRUCTURE,
    title="networkinterface link",
    parent=LINK,
    location="/link/networkinterface/",
    attributes=(
        _immutable("occi.networkinterface.interface", "the interface name (eth0)"),
        Attribute(name="occi.networkinterface.mac", description="the MAC address"),
        Attribute(
            name="occi.networkinterface.state",
            mutable=False,
            enum=("active", "inactive", "error"),
            description="current state: active, inactive or error",
        ),
        _immutable("occi.networkinterface.state.message",
                   "why the interface is in its state"),
    ),
)

STORAGELINK = Kind(
    term="storagelink",
    scheme=INFRASTRUCTURE,
    title="storage link",
    parent=LINK,
    location="/link/storagelink/",
    attributes=(
        Attribute(name="occi.storagelink.deviceid",
                  description="the device the storage is attached as (/dev/xvdf)"),
        Attribute(name="occi.storagelink.mountpoint",
                  description="where the guest mounts the storage"),
        Attribute(
            name="occi.storagelink.state",
            mutable=False,
            enum=("active", "inactive", "error"),
            description="current state: active, inactive or error",
        ),
        _immutable("occi.storagelink.state.message", "why the link is in its state"),
    ),
)

# -- infrastructure mixins -------------------------------------------------

IPNETWORK = Mixin(
    term="ipnetwork",
    scheme="http://schemas.ogf.org/occi/infrastructure/network#",
    title="IP network mixin",
    location="/mixin/ipnetwork/",
    applies=(NETWORK,),
    attributes=(
        Attribute(name="occi.network.address", description="IP block in CIDR notation"),
        Attribute(name="occi.network.gateway", description="gateway IP address"),
        Attribute(name="occi.network.allocation", enum=("dynamic", "static"),
                  description="address allocation: dynamic or static"),
    ),
)

IPNETWORKINTERFACE = Mixin(
    term="ipnetworkinterface",
    scheme="http://schemas.ogf.org/occi/infrastructure/networkinterface#",
    title="IP network interface mixin",
    location="/mixin/ipnetworkinterface/",
    applies=(NETWORKINTERFACE,),
    attributes=(
        Attribute(name="occi.networkinterface.address", required=True,
                  description="IP address of the interface"),
        Attribute(name="occi.networkinterface.gateway",
                  description="gateway IP address"),
        Attribute(name="occi.networkinterface.allocation", required=True,
                  enum=("dynamic", "static"),
                  description="address allocation: dynamic or static"),
    ),
)

OS_TPL = Mixin(
    term="os_tpl",
    scheme=INFRASTRUCTURE,
    title="operating system template",
    location="/mixin/os_tpl/",
    applies=(COMPUTE,),
)

RESOURCE_TPL = Mixin(
    term="resource_tpl",
    scheme=INFRASTRUCTURE,
    title="resource template",
    location="/mixin/resource_tpl/",
    applies=(COMPUTE,),
)

AVAILABILITY_ZONE = Mixin(
    term="availability_zone",
    scheme=INFRASTRUCTURE,
    title="availability zone",
    location="/mixin/availability_zone/",
    applies=(COMPUTE, STORAGE),
)

#: The parent of region mixins (an EGI extension, as rOCCI-core 5 has it).
REGION = Mixin(
    term="region",
    scheme=INFRASTRUCTURE,
    title="region",
    location="/mixin/region/",
    applies=(RESOURCE, LINK),
)

SSH_KEY = Mixin(
    term="ssh_key",
    scheme="http://schemas.ogf.org/occi/infrastructure/credentials#",
    title="SSH public key for the compute",
    location="/mixin/ssh_key/",
    applies=(COMPUTE,),
    attributes=(
        Attribute(name="occi.credentials.ssh.publickey", required=True,
                  description="the OpenSSH public key to install"),
    ),
)

USER_DATA = Mixin(
    term="user_data",
    scheme="http://schemas.ogf.org/occi/infrastructure/compute#",
    title="user data for the compute",
    location="/mixin/user_data/",
    applies=(COMPUTE,),
    attributes=(
        Attribute(name="occi.compute.userdata", required=True,
                  description="base64-encoded data for cloud-init"),
    ),
)

OPENSTACK_PUBLIC_KEY = Mixin(
    term="public_key",
    scheme="http://schemas.openstack.org/instance/credentials#",
    title="OpenStack contextualization: SSH public key",
    location="/mixin/openstack/public_key/",
    applies=(COMPUTE,),
    attributes=(
        Attribute(name="org.openstack.credentials.publickey.name",
                  description="a name for the key"),
        Attribute(name="org.openstack.credentials.publickey.data",
                  description="the OpenSSH public key to install"),
    ),
)

OPENSTACK_USER_DATA = Mixin(
    term="user_data",
    scheme="http://schemas.openstack.org/compute/instance#",
    title="OpenStack contextualization: user data",
    location="/mixin/openstack/user_data/",
    applies=(COMPUTE,),
    attributes=(
        Attribute(name="org.openstack.compute.user_data",
                  description="base64-encoded data for cloud-init"),
    ),
)

#: What makes a new compute reachable (an SSH key) or configures it (user
#: data): given blank, it would be dropped and the VM launched without it.
CONTEXTUALIZATION = ("occi.credentials.ssh.publickey", "occi.compute.userdata",
                     "org.openstack.credentials.publickey.data",
                     "org.openstack.compute.user_data")

# -- everything ------------------------------------------------------------

KINDS = (ENTITY, RESOURCE, LINK, COMPUTE, STORAGE, NETWORK, NETWORKINTERFACE,
         STORAGELINK)
MIXINS = (IPNETWORK, IPNETWORKINTERFACE, OS_TPL, RESOURCE_TPL, AVAILABILITY_ZONE,
          SSH_KEY, USER_DATA, OPENSTACK_PUBLIC_KEY, OPENSTACK_USER_DATA)
ACTIONS = (COMPUTE_START, COMPUTE_STOP, COMPUTE_RESTART, COMPUTE_SUSPEND,
           COMPUTE_SAVE, STORAGE_ONLINE, STORAGE_OFFLINE, STORAGE_BACKUP,
           STORAGE_SNAPSHOT, STORAGE_RESIZE, NETWORK_UP, NETWORK_DOWN)


# -- template constructors -------------------------------------------------


def os_tpl_mixin(ami_id: str, title: str, public_host: str, region: str = "") -> Mixin:
    """
    The os_tpl mixin of one AMI: term = the AMI id, title = the image name,
    scheme C{http://occi.<public_host>/occi/infrastructure/os_tpl#}.  With a
    C{region} (a gateway of several regions), the title names it and the
    attribute L{REGION_ATTRIBUTE} holds it, so a user sees where the image
    lives.
    """
    return Mixin(
        term=ami_id,
        scheme=f"http://occi.{public_host}/occi/infrastructure/os_tpl#",
        title=f"{title} ({region})" if region else title,
        attributes=(_region_attribute(region),) if region else (),
        location=f"/mixin/os_tpl/{ami_id}/",
        depends=(OS_TPL,),
        applies=(COMPUTE,),
    )


def availability_zone_mixin(zone: str, public_host: str, region: Mixin | None = None) -> Mixin:
    """
    The availability_zone mixin of one EC2 zone (term = the zone name); in
    a gateway of several regions it also depends on its C{region}'s mixin.
    """
    return Mixin(
        term=zone,
        scheme=f"http://occi.{public_host}/occi/infrastructure/availability_zone#",
        title=f"availability zone {zone}",
        location=f"/mixin/availability_zone/{zone}/",
        depends=(AVAILABILITY_ZONE,) + ((region,) if region else ()),
        applies=(COMPUTE, STORAGE),
    )


#: The attribute naming the region an entity or an image lives in.
REGION_ATTRIBUTE = "com.amazon.aws.ec2.region"


def _region_attribute(region: str) -> Attribute:
    return Attribute(name=REGION_ATTRIBUTE, mutable=False, default=region,
                     description="the AWS region it lives in")


def region_mixin(region: str, public_host: str) -> Mixin:
    """
    The mixin of one AWS region (term = the region name), under L{REGION}:
    every entity of the region carries it, resources and links alike.
    """
    return Mixin(
        term=region,
        scheme=f"http://occi.{public_host}/occi/infrastructure/region#",
        title=f"AWS region {region}",
        attributes=(_region_attribute(region),),
        location=f"/mixin/region/{region}/",
        depends=(REGION,),
        applies=REGION.applies,
    )


def template_of(mixins, parent: Mixin) -> Mixin | None:
    """The first of C{mixins} that depends on C{parent} (os_tpl, ...), if any."""
    for mixin in mixins:
        if mixin.depends_on(parent):
            return mixin
    return None

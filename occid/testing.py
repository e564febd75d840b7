# -*- test-case-name: tests.test_testing -*-
"""
In-memory fakes of occid's providers, shipped in the package so that every
layer (and every project embedding occid) can test against them.

L{MemoryBackend} and L{MemoryCollection} keep entities in a dict with the
semantics the EC2 provider has: EC2-like ids, the compute state machine, the
visibility rules of an account binding, C{NotFound} for another user's
entity.  The same contract tests (C{tests/contract.py}) run against them and
against the EC2 providers, which keeps the fakes honest.  L{identify_as},
L{refuse_identity} and L{StaticPolicy} stand in for the TLS identity and the
account policy; L{connect} and L{read_response} drive a twisted.web C{Site}
with raw HTTP bytes over an in-memory transport.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from twisted.internet import defer
from twisted.internet.address import IPv4Address
from twisted.internet.testing import StringTransport
from zope.interface import implementer

from occid.config import Visibility
from occid.ec2.vocabulary import resource_tpl_mixin
from occid.gsi.principal import Principal
from occid.interfaces import IAccountPolicy, IBackend, IEntityCollection
from occid.occi import infrastructure as infra
from occid.occi.catalog import Catalog
from occid.occi.errors import BadRequest, Conflict, Forbidden, NotFound, Unauthorized
from occid.occi.model import Changes, Entity, EntityFilter, Kind, Link, Mixin, Resource
from occid.policy import AccountBinding

#: Id prefixes of resources, by kind term, as EC2 makes them.
ID_PREFIXES = {"compute": "i-", "storage": "vol-", "network": "vpc-"}

#: The state attribute and the state of a new entity, by kind term.
INITIAL_STATES = {
    "compute": ("occi.compute.state", "active"),
    "storage": ("occi.storage.state", "online"),
    "network": ("occi.network.state", "active"),
    "networkinterface": ("occi.networkinterface.state", "active"),
    "storagelink": ("occi.storagelink.state", "active"),
}

#: (kind term, action term) -> (states the action needs, state after it;
#: None keeps the state).
TRANSITIONS = {
    ("compute", "start"): ({"inactive", "suspended"}, "active"),
    ("compute", "stop"): ({"active"}, "inactive"),
    ("compute", "restart"): ({"active"}, "active"),
    ("compute", "suspend"): ({"active"}, "suspended"),
    ("compute", "save"): ({"active", "inactive"}, None),
    ("storage", "online"): ({"offline"}, "online"),
    ("storage", "offline"): ({"online"}, "offline"),
    ("storage", "snapshot"): ({"online", "offline"}, None),
    ("storage", "resize"): ({"online", "offline"}, None),
    ("network", "up"): ({"inactive"}, "active"),
    ("network", "down"): ({"active"}, "inactive"),
}

#: Kinds every user of an account sees, whatever the visibility (VPCs).
SHARED_KINDS = ("network",)

#: The templates a L{MemoryBackend} offers unless told otherwise.
DEFAULT_AMIS = (
    ("ami-0123456789abcdef0", "ubuntu-24.04-amd64-server"),
    ("ami-0fedcba9876543210", "debian-12-amd64"),
)
DEFAULT_INSTANCE_TYPES = (
    ("t3.micro", 2, 1.0, "x86_64"),
    ("t3.small", 2, 2.0, "x86_64"),
    ("t3.large", 2, 8.0, "x86_64"),
)
DEFAULT_ZONES = ("eu-west-1a", "eu-west-1b")

#: The template parents: a mixin depending on one replaces its sibling.
TEMPLATE_PARENTS = (infra.OS_TPL, infra.RESOURCE_TPL, infra.AVAILABILITY_ZONE)


def make_principal(
    dn: str = "/DC=org/DC=example/OU=Users/CN=Jane Doe",
    vo: str | None = "fedcloud.egi.eu",
    limited: bool = False,
) -> Principal:
    """A valid principal for tests, good for a year from now."""
    return Principal(
        dn=dn,
        issuer_dn="/DC=org/DC=example/CN=Example CA",
        proxy_depth=1,
        limited=limited,
        legacy=False,
        not_after=datetime.now(UTC) + timedelta(days=365),
        vo=vo,
        fqans=(f"/{vo}",) if vo else (),
    )


def make_binding(
    account: str = "fedcloud",
    visibility: Visibility = Visibility.OWNER,
    writable: bool = True,
    vo: str = "fedcloud.egi.eu",
) -> AccountBinding:
    """An account binding for tests."""
    return AccountBinding(
        account=account, visibility=visibility, writable=writable, vo=vo
    )


def identify_as(principal: Principal):
    """An C{identify(request)} that says every request comes from C{principal}."""

    def identify(request):
        return principal

    return identify


def refuse_identity(reason: str):
    """An C{identify(request)} that refuses every request with C{reason}."""

    def identify(request):
        raise Unauthorized(reason)

    return identify


@implementer(IAccountPolicy)
class StaticPolicy:
    """
    An account policy from a fixed table: DN -> binding.  Unknown DNs get
    C{Forbidden} naming their VO, as the real policy does.
    """

    def __init__(self, bindings: dict[str, AccountBinding]):
        self._bindings = dict(bindings)

    def bind(self, principal):
        try:
            return self._bindings[principal.dn]
        except KeyError:
            who = f"VO {principal.vo}" if principal.vo else "a proxy without VOMS attributes"
            raise Forbidden(f"no account serves {who}; ask the site admin") from None


@dataclass
class _Stored:
    """One entity and the tags the EC2 provider would keep on it."""

    entity: Entity
    owner: str
    vo: str


@dataclass
class MemoryStore:
    """
    Everything a L{MemoryBackend} holds, shared by the collections it hands
    out: entities per (account, kind term, id), and the test controls.

    @ivar failure: when set, every collection call fails with it.
    @ivar stall: when true, every collection call returns a Deferred that
        never fires; they are kept in C{stalled}.
    @ivar operations: what the collections did, as C{(operation, kind term,
        id, detail)}; C{detail} is the created entity, the C{Changes}, the
        C{(action, attributes)} pair, or C{None}.
    """

    public_host: str
    entities: dict[tuple[str, str, str], _Stored] = field(default_factory=dict)
    failure: Exception | None = None
    stall: bool = False
    stalled: list[defer.Deferred] = field(default_factory=list)
    operations: list[tuple] = field(default_factory=list)
    serial: itertools.count = field(default_factory=lambda: itertools.count(1))

    def new_id(self, prefix: str) -> str:
        """A fresh EC2-like id: C{prefix} and 17 hex digits, increasing."""
        return f"{prefix}{next(self.serial):017x}"


def _state_of(entity: Entity) -> tuple[str, str] | None:
    """The name and value of the entity's state attribute, if its kind has one."""
    known = INITIAL_STATES.get(entity.kind.term)
    if known is None:
        return None
    name = known[0]
    return name, str(entity.attributes.get(name, ""))


def _applicable_actions(entity: Entity) -> list:
    """The kind's actions that the entity's current state allows."""
    state = _state_of(entity)
    current = state[1] if state else ""
    return [
        action
        for action in entity.kind.actions
        if current in TRANSITIONS.get((entity.kind.term, action.term), (set(), None))[0]
    ]


@implementer(IEntityCollection)
class MemoryCollection:
    """
    The entities of one kind in one account that one principal may see,
    kept in a L{MemoryStore}.  Every method returns an already-fired
    Deferred (unless the store is told to stall or fail).
    """

    def __init__(
        self, kind: Kind, principal: Principal, binding: AccountBinding, store: MemoryStore
    ):
        self.kind = kind
        self._principal = principal
        self._binding = binding
        self._store = store

    # -- helpers ------------------------------------------------------------

    def _call(self, function, *args):
        if self._store.failure is not None:
            return defer.fail(self._store.failure)
        if self._store.stall:
            pending = defer.Deferred()
            self._store.stalled.append(pending)
            return pending
        return defer.maybeDeferred(function, *args)

    def _key(self, id: str) -> tuple[str, str, str]:
        return (self._binding.account, self.kind.term, id)

    def _visible(self, stored: _Stored) -> bool:
        if self.kind.term in SHARED_KINDS or self._binding.visibility == Visibility.MANAGER:
            return True
        if self._binding.visibility == Visibility.VO:
            return stored.vo == self._binding.vo
        return stored.owner == self._principal.owner

    def _stored(self, id: str) -> _Stored:
        stored = self._store.entities.get(self._key(id))
        if stored is None or not self._visible(stored):
            raise NotFound(f"no {self.kind.term} {id} here")
        return stored

    def _render(self, stored: _Stored) -> Entity:
        entity = copy.deepcopy(stored.entity)
        entity.actions = _applicable_actions(entity)
        return entity

    def _record(self, operation: str, id: str, detail) -> None:
        self._store.operations.append((operation, self.kind.term, id, detail))

    def _definition(self, entity: Entity, name: str):
        for category in [entity.kind, *self._ancestors(entity.kind), *entity.mixins]:
            definition = category.attribute(name)
            if definition is not None:
                return definition
        return None

    @staticmethod
    def _ancestors(kind: Kind):
        while kind.parent is not None:
            kind = kind.parent
            yield kind

    # -- IEntityCollection --------------------------------------------------

    def list(self, filter: EntityFilter):
        return self._call(self._list, filter)

    def _list(self, filter: EntityFilter):
        found = []
        for (account, term, id), stored in sorted(self._store.entities.items()):
            if account != self._binding.account or term != self.kind.term:
                continue
            if not self._visible(stored):
                continue
            if filter.owned_only and stored.owner != self._principal.owner:
                continue
            entity = self._render(stored)
            if filter.matches(entity):
                found.append(entity)
        return found

    def get(self, id: str):
        return self._call(lambda: self._render(self._stored(id)))

    def create(self, entity: Entity):
        return self._call(self._create, entity)

    def _create(self, entity: Entity):
        if self.kind == infra.COMPUTE and infra.template_of(entity.mixins, infra.OS_TPL) is None:
            raise BadRequest("an os_tpl mixin is required")
        new = copy.deepcopy(entity)
        new.attributes.pop("occi.core.id", None)
        if isinstance(new, Link):
            new.id = f"{new.source.rsplit('/', 1)[-1]}_{new.target.rsplit('/', 1)[-1]}"
        else:
            new.id = self._store.new_id(ID_PREFIXES.get(self.kind.term, "x-"))
        if self._store.entities.get(self._key(new.id)) is not None:
            raise Conflict(f"{self.kind.term} {new.id} exists already")
        state = INITIAL_STATES.get(self.kind.term)
        if state is not None:
            new.attributes[state[0]] = state[1]
        if isinstance(new, Resource):
            for link in new.links:
                link.source = new.location
                link.id = f"{new.id}_{link.target.rsplit('/', 1)[-1]}"
        self._store.entities[self._key(new.id)] = _Stored(
            entity=new, owner=self._principal.owner, vo=self._binding.vo
        )
        self._record("create", new.id, copy.deepcopy(new))
        return self._render(self._store.entities[self._key(new.id)])

    def update(self, id: str, changes: Changes):
        return self._call(self._update, id, changes)

    def _update(self, id: str, changes: Changes):
        stored = self._stored(id)
        entity = stored.entity
        for name in changes.attributes:
            definition = self._definition(entity, name)
            if definition is not None and not definition.mutable:
                raise Forbidden(f"{name} cannot be changed")
        resize = infra.template_of(changes.mixins, infra.RESOURCE_TPL)
        state = _state_of(entity)
        if resize is not None and state is not None and state[1] == "active":
            raise Conflict(
                f"{self.kind.term} {id} is active; stop it before changing its "
                "resource_tpl"
            )
        mixins = list(entity.mixins)
        if changes.replace:
            mixins = [m for m in mixins if any(m.depends_on(p) for p in TEMPLATE_PARENTS)]
        for mixin in changes.mixins:
            parents = [p for p in TEMPLATE_PARENTS if mixin.depends_on(p)]
            mixins = [
                m for m in mixins
                if m != mixin and not any(m.depends_on(p) for p in parents)
            ]
            mixins.append(mixin)
        entity.mixins = mixins
        entity.attributes.update(changes.attributes)
        self._record("update", id, changes)
        return self._render(stored)

    def delete(self, id: str):
        return self._call(self._delete, id)

    def _delete(self, id: str):
        self._stored(id)
        del self._store.entities[self._key(id)]
        self._record("delete", id, None)

    def trigger(self, id: str, action, attributes):
        return self._call(self._trigger, id, action, attributes)

    def _trigger(self, id: str, action, attributes):
        stored = self._stored(id)
        entity = stored.entity
        if action not in self.kind.actions:
            raise BadRequest(f"{action.identifier} is not an action of {self.kind.term}")
        needs, after = TRANSITIONS[(self.kind.term, action.term)]
        name, state = _state_of(entity)
        if state not in needs:
            raise Conflict(
                f"cannot {action.term} {self.kind.term} {id}: it is {state}; "
                f"{action.term} needs it {' or '.join(sorted(needs))}"
            )
        self._record("trigger", id, (action, dict(attributes)))
        if after is not None:
            entity.attributes[name] = after
        if action == infra.COMPUTE_SAVE:
            image = self._store.new_id("ami-")
            title = str(attributes.get("name") or f"saved from {id}")
            return infra.os_tpl_mixin(image, title, self._store.public_host)
        if action == infra.STORAGE_RESIZE:
            entity.attributes["occi.storage.size"] = attributes["size"]
        return self._render(stored)


#: The kinds a L{MemoryBackend} has collections for.
COLLECTION_KINDS = (
    infra.COMPUTE, infra.STORAGE, infra.NETWORK, infra.NETWORKINTERFACE,
    infra.STORAGELINK,
)


@implementer(IBackend)
class MemoryBackend:
    """
    A cloud in a dict: one L{Catalog} per account (built from C{amis},
    C{instance_types} and C{zones}; L{offer} adds an os_tpl to one account)
    and L{MemoryCollection}s over one L{MemoryStore}.
    """

    def __init__(
        self,
        public_host: str = "occi.example.org",
        amis=DEFAULT_AMIS,
        instance_types=DEFAULT_INSTANCE_TYPES,
        zones=DEFAULT_ZONES,
    ):
        self.store = MemoryStore(public_host=public_host)
        self._public_host = public_host
        self._templates = tuple(
            [infra.os_tpl_mixin(ami, title, public_host) for ami, title in amis]
            + [resource_tpl_mixin(*spec) for spec in instance_types]
            + [infra.availability_zone_mixin(zone, public_host) for zone in zones]
        )
        self._extra: dict[str, tuple[Mixin, ...]] = {}
        self._catalogs: dict[str, Catalog] = {}
        self.catalog_calls = 0

    def offer(self, account: str, ami_id: str, title: str) -> None:
        """Add an os_tpl to C{account}'s catalog (a new catalog version)."""
        mixin = infra.os_tpl_mixin(ami_id, title, self._public_host)
        self._extra[account] = self._extra.get(account, ()) + (mixin,)
        self._catalogs.pop(account, None)

    def catalog(self, binding: AccountBinding, principal: Principal | None = None):
        """The account's catalog: the fake keeps no private templates."""
        self.catalog_calls += 1
        account = binding.account
        if account not in self._catalogs:
            extra = self._extra.get(account, ())
            self._catalogs[account] = Catalog(
                self._templates + extra, version=f"{account}-{len(extra)}"
            )
        return defer.succeed(self._catalogs[account])

    def collection(self, kind: Kind, principal: Principal, binding: AccountBinding):
        if kind not in COLLECTION_KINDS:
            raise NotFound(f"no collection for {kind.identifier}")
        return MemoryCollection(kind, principal, binding, self.store)


# -- raw HTTP over an in-memory transport -----------------------------------


@dataclass(frozen=True)
class RawResponse:
    """One HTTP response read off a transport."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def values(self, name: str) -> list[str]:
        """Every value of header C{name} (case-insensitive), in order."""
        return [value for key, value in self.headers if key.lower() == name.lower()]

    def header(self, name: str) -> str | None:
        """The first value of header C{name}, or C{None}."""
        values = self.values(name)
        return values[0] if values else None


def connect(site, peer: str = "127.0.0.1"):
    """
    Open an in-memory connection to C{site}.

    @return: C{(channel, transport)}: feed request bytes with
        C{channel.dataReceived}, read the answer with
        C{read_response(transport.value())}.
    """
    channel = site.buildProtocol(IPv4Address("TCP", peer, 40000))
    transport = StringTransport(
        hostAddress=IPv4Address("TCP", "127.0.0.1", 11443),
        peerAddress=IPv4Address("TCP", peer, 40000),
    )
    channel.makeConnection(transport)
    return channel, transport


def read_response(data: bytes) -> RawResponse:
    """
    Parse the first HTTP/1.1 response in C{data} (C{Content-Length} or
    chunked framing, else everything after the headers).
    """
    head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = tuple(
        (name.strip(), value.strip())
        for name, _, value in (line.partition(":") for line in header_lines)
    )
    response = RawResponse(status=int(status_line.split()[1]), headers=headers, body=b"")
    length = response.header("Content-Length")
    if length is not None:
        return replace(response, body=rest[: int(length)])
    if (response.header("Transfer-Encoding") or "").lower() == "chunked":
        body = b""
        while True:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                return replace(response, body=body)
            body, rest = body + rest[:size], rest[size + 2:]
    return replace(response, body=rest)


def http_request(
    site, method: str, path: str, headers=(), body: bytes = b"", peer: str = "127.0.0.1"
) -> RawResponse:
    """
    Send one HTTP/1.1 request to C{site} over a fresh in-memory connection
    and read the answer (which must be complete once the request is fed:
    the fakes answer synchronously).

    @param headers: C{(name, value)} pairs; C{Host}, C{Connection: close}
        and, for a body or a POST/PUT, C{Content-Length} are added.
    """
    channel, transport = connect(site, peer)
    lines = [f"{method} {path} HTTP/1.1", "Host: occi.example.org", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers]
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    channel.dataReceived(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body)
    return read_response(transport.value())


@dataclass
class Gateway:
    """An occid site over memory fakes, with the clock it runs on."""

    backend: MemoryBackend
    clock: object
    site: object

    def request(self, method: str, path: str, headers=(), body: bytes = b"") -> RawResponse:
        """One request over a fresh connection; see L{http_request}."""
        return http_request(self.site, method, path, headers, body)


def make_gateway(
    principal: Principal | None = None,
    binding: AccountBinding | None = None,
    backend: MemoryBackend | None = None,
    identify=None,
    policy=None,
    public_url: str = "https://occi.example.org:11443",
    max_body: int = 1 << 20,
    request_timeout: float = 60,
) -> Gateway:
    """
    A complete occid web stack (L{occid.web.root.make_site} over
    L{occid.web.root.make_root}) for one principal, over a
    L{MemoryBackend} (a new one unless shared through C{backend}), a
    L{StaticPolicy} binding C{principal} to C{binding} (unless C{policy} is
    given) and a C{MemoryReactorClock} set to the present.
    """
    from twisted.internet.testing import MemoryReactorClock

    from occid.server.pipeline import make_root
    from occid.server.site import make_site

    principal = principal or make_principal()
    binding = binding or make_binding()
    backend = backend or MemoryBackend()
    clock = MemoryReactorClock()
    clock.advance(datetime.now(UTC).timestamp())
    root = make_root(
        backend,
        policy or StaticPolicy({principal.dn: binding}),
        identify or identify_as(principal),
        public_url,
        clock,
    )
    return Gateway(backend, clock, make_site(root, max_body, request_timeout, clock))

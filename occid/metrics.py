"""
Every metric the daemon exports, in one registry of its own (not
prometheus-client's global one, so that nothing a library registers there
appears on C{/metrics}, and tests read exactly occid's).

Pure core: this module imports only C{prometheus_client}, so the core
(the authenticator's principal cache) and both edges may count.  Label
values come from small, fixed sets (kinds, methods, statuses, refusal
rules, EC2 operations and outcomes, account and region names from the
configuration): never a DN, a token subject or an entity id.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = [
    "AUTHENTICATIONS",
    "CATALOGUE_AGE",
    "EC2_CALLS",
    "EC2_LATENCY",
    "HANDSHAKES",
    "OPEN_CONNECTIONS",
    "PRINCIPAL_CACHE",
    "RECONCILER_ACTIONS",
    "REGISTRY",
    "REQUESTS",
    "REQUEST_LATENCY",
    "method_label",
    "request_kind",
]

#: The registry C{/metrics} serves.
REGISTRY = CollectorRegistry(auto_describe=True)

REQUESTS = Counter(
    "occid_requests", "OCCI requests by kind of path, method and status "
    "(499: the client left before its answer).",
    ["kind", "method", "status"], registry=REGISTRY)

REQUEST_LATENCY = Histogram(
    "occid_request_duration_seconds", "Time from a request's arrival to its answer, by kind.",
    ["kind"], registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0))

HANDSHAKES = Counter(
    "occid_tls_authentications", "Client chains judged after the TLS handshake, by outcome "
    "(accepted, refused, none: no certificate presented) and refusal rule.",
    ["outcome", "rule"], registry=REGISTRY)

AUTHENTICATIONS = Counter(
    "occid_token_authentications", "Bearer tokens judged, by outcome and refusal rule.",
    ["outcome", "rule"], registry=REGISTRY)

PRINCIPAL_CACHE = Counter(
    "occid_principal_cache_lookups", "Lookups in the cache of validated proxy chains, "
    "by result (hit, miss).", ["result"], registry=REGISTRY)

EC2_CALLS = Counter(
    "occid_ec2_calls", "AWS API calls (retries included in one call), by operation and outcome "
    "(ok, client_error, throttled, server_error, unreachable).",
    ["operation", "outcome"], registry=REGISTRY)

EC2_LATENCY = Histogram(
    "occid_ec2_call_duration_seconds", "Time of one AWS API call, retries included, "
    "by operation.", ["operation"], registry=REGISTRY,
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 60.0))

CATALOGUE_AGE = Gauge(
    "occid_catalogue_age_seconds", "Seconds since the templates of an account in a region "
    "were last read from EC2 (NaN: never).", ["account", "region"], registry=REGISTRY)

RECONCILER_ACTIONS = Counter(
    "occid_reconciler_actions", "What the reconciler did, by kind of action.",
    ["action"], registry=REGISTRY)

OPEN_CONNECTIONS = Gauge(
    "occid_open_connections", "Client connections open on the OCCI listener.",
    registry=REGISTRY)

#: The methods counted by name; any other is counted as C{OTHER}.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"})

#: The first path segments counted as their own kind.
_KINDS = {"compute": "compute", "storage": "storage", "network": "network", "link": "link",
          "-": "query", ".well-known": "query"}


def request_kind(path: str) -> str:
    """
    The kind label of a request path: compute, storage, network, link,
    query (the query interface) or other.
    """
    return _KINDS.get(path.lstrip("/").partition("/")[0], "other")


def method_label(method: str) -> str:
    """C{method}, or C{OTHER} for a method outside the usual few (the label stays bounded)."""
    return method if method in _METHODS else "OTHER"

"""
The Twisted edge: occid's HTTPS server over the pure core.

A request's bytes arrive on a TLS connection made by L{tls} (the context and
OpenSSL's verdicts), whose HTTP channel (L{channel}) has authenticated the
client's proxy chain once, after the handshake.  The C{Site} of L{site}
enforces the body limit (413) and the timeout (504); the OCCI resource of
L{pipeline} negotiates, authenticates, binds and routes (L{routes}) each
request, keeping its state in L{context}, and hands it to a handler
(L{handlers}); L{identity} builds every 401 and L{respond} writes every
answer.  L{trustwatch} and L{reload} keep the trust material current while
the daemon runs.  L{health} serves the metrics listener (C{/metrics},
C{/healthz}, C{/readyz}) and L{logformat} the JSON log.
"""

__all__ = [
    "channel",
    "context",
    "handlers",
    "health",
    "identity",
    "logformat",
    "pipeline",
    "preflight",
    "reload",
    "respond",
    "routes",
    "site",
    "tls",
    "trustwatch",
]

# -*- test-case-name: tests.test_oidc -*-
"""
A token refused by a rule of docs/security.md (T1-T10), with the reason an
RFC 6750 C{error_description} gives the client.
"""

from __future__ import annotations


class TokenRejected(Exception):
    """
    A bearer token failed a token rule.

    @ivar rule: the rule identifier (C{"T2"}, C{"T6"}, …) of docs/security.md.
    @ivar reason: what is wrong, for the client and the log; never the token.
    @ivar issuer: the token's issuer, when it was read, for the log.
    @ivar sub: the token's subject, when it was read, for the log.
    """

    def __init__(self, rule: str, reason: str, issuer: str | None = None, sub: str | None = None):
        super().__init__(f"{rule}: {reason}")
        self.rule = rule
        self.reason = reason
        self.issuer = issuer
        self.sub = sub

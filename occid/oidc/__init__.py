# -*- test-case-name: tests.test_oidc -*-
"""
OpenID Connect access tokens (EGI Check-in) as a second way in: the token
rules (T1-T10 of docs/security.md), the mapping of entitlements to
FQAN-like group paths, and the reading of issuers' discovery, key and
userinfo documents.

Pure core: no Twisted, no boto3; the documents are fetched by the Twisted
edge (L{occid.server.tokens}) and handed in, and time is passed in.
"""

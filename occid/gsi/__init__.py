# -*- test-case-name: tests.test_gsi_proxy,tests.test_gsi_voms,tests.test_authenticator -*-
"""
Grid security, part of the pure core: who a client is, from the proxy chain
it presented and the VOMS attribute certificate inside it.  No Twisted, no
boto3, no botocore; time is passed in, the trust material is read once.

Modules, one job each:
  - L{occid.gsi.authenticator}: a chain in, a L{Principal} out, remembered;
  - L{occid.gsi.principal}: the principal and the refusal;
  - L{occid.gsi.proxy}: proxy-chain validation (rules C2-C13), built from
    L{occid.gsi.chain} (options and facts), L{occid.gsi.proxycert} (what a
    proxy is), L{occid.gsi.chainrules} (the rules), L{occid.gsi.tlsverdict}
    (OpenSSL's errors) and L{occid.gsi.refusal} (messages and fixes);
  - L{occid.gsi.voms}: attribute-certificate rules (V1-V7, M1), with
    L{occid.gsi.vomssigner} (V4, the signer), L{occid.gsi.vomsdir} (the
    vomsdir) and L{occid.gsi.vomsasn1} (the ASN.1);
  - L{occid.gsi.trust}: the IGTF trust directory, with
    L{occid.gsi.capolicy} (the CAs' namespaces and signing policies);
  - L{occid.gsi.names}: distinguished names in slash form;
  - L{occid.gsi.readable}: certificates that cannot be read.
"""

__all__ = [
    "authenticator",
    "capolicy",
    "chain",
    "chainrules",
    "names",
    "principal",
    "proxy",
    "proxycert",
    "readable",
    "refusal",
    "tlsverdict",
    "trust",
    "voms",
    "vomsasn1",
    "vomsdir",
    "vomssigner",
]

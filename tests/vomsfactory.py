# -*- test-case-name: tests.test_gsi_voms -*-
"""
VOMS attribute certificates for the tests, built on the factory's pieces
(L{occid.demo.voms}).

L{build_ac} makes an RFC 5755 AC the way a VOMS server does (by default a
valid one for C{testvo}, signed with the test PKI's VOMS key), with a knob
for every hostile variant the C tools refuse to write: another holder, any
validity, targets, unknown critical extensions, a wrong or missing
authorityKeyIdentifier, no noRevAvail, version 1, FQANs outside the VO.
L{ac_extension} packs ACs (several, of several VOs) into the proxy
extension that L{tests.pki.PKI.issue_proxy} embeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from asn1crypto import cms, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509

from occid.demo import voms as factory
from occid.demo.pki import Credential
from occid.demo.voms import ac_extension
from occid.gsi import vomsasn1 as voms

__all__ = ["OMIT", "ac_extension", "build_ac", "targets_value", "voms_proxy", "with_signature_of"]

#: Leave an optional part out.
OMIT = object()


def targets_value(hosts: Sequence[str]) -> voms.TargetsList:
    """A targets extension value naming C{hosts} as URIs."""
    return voms.TargetsList([
        voms.Targets([
            voms.Target(
                name="target_name",
                value=asn1_x509.GeneralName(name="uniform_resource_identifier", value=host),
            )
            for host in hosts
        ])
    ])


def _generic_attributes(vo: str, voms_host: str, attributes: Sequence[tuple[str, str, str]]) -> voms.GAValue:
    return voms.GAValue({
        "providers": [{
            "grantor": [factory.policy_authority(vo, voms_host)],
            "attributes": [
                {"name": n.encode(), "value": v.encode(), "qualifier": q.encode()}
                for n, v, q in attributes
            ],
        }]
    })


def build_ac(
    *,
    signer: Credential,
    holder: x509.Certificate,
    now: datetime,
    vo: str = "testvo",
    voms_host: str = "voms.example.org",
    fqans: Sequence[str] = ("/testvo",),
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    holder_name: x509.Name | None = None,
    holder_serial: int | None = None,
    issuer: x509.Name | None = None,
    version: str = "v2",
    targets: Sequence[str] | None = None,
    certseq: Sequence[x509.Certificate] | object | None = None,
    authority_key_id: bytes | object | None = None,
    no_rev_avail: bool = True,
    critical: frozenset[str] = frozenset({voms.TARGETS}),
    extra_extensions: Sequence[tuple[str, bytes, bool]] = (),
    generic_attributes: Sequence[tuple[str, str, str]] = (),
) -> cms.AttributeCertificateV2:
    """
    An AC for C{holder} signed by the credential C{signer}.

    Defaults follow voms-proxy-fake: valid from C{now} for 12 hours, holder
    issuer = the holder's subject ("old" format; pass C{holder.issuer} for
    the RFC format), policyAuthority C{vo://voms_host:15000}, the signer's
    certificate as certseq, AKI = the signer's key id, noRevAvail.
    C{OMIT} leaves C{certseq} or C{authority_key_id} out; C{critical} lists
    the extension OIDs marked critical; C{extra_extensions} adds
    C{(oid, DER value, critical)} extensions.
    """
    if certseq is None:
        certseq = [signer.certificate]
    if authority_key_id is None:
        authority_key_id = signer.certificate.extensions.get_extension_for_class(
            x509.SubjectKeyIdentifier
        ).value.digest

    extensions: list[tuple[str, Any]] = []
    if generic_attributes:
        extensions.append((voms.GENERIC_ATTRIBUTES, _generic_attributes(vo, voms_host, generic_attributes)))
    if certseq is not OMIT:
        extensions.append((voms.CERTSEQ, factory.certseq_value(cast(Sequence[x509.Certificate], certseq))))
    if no_rev_avail:
        extensions.append((voms.NO_REV_AVAIL, core.Null()))
    if authority_key_id is not OMIT:
        key_id = cast(bytes, authority_key_id)
        extensions.append((voms.AUTHORITY_KEY_IDENTIFIER, factory.key_id_value(key_id)))
    if targets is not None:
        extensions.append((voms.TARGETS, targets_value(targets)))
    extension_list = [factory.extension(oid, value, oid in critical) for oid, value in extensions]
    extension_list += [factory.extension(oid, der, crit) for oid, der, crit in extra_extensions]

    body = factory.ac_body(
        holder_name=holder_name or holder.subject,
        holder_serial=holder.serial_number if holder_serial is None else holder_serial,
        issuer=issuer or signer.certificate.subject,
        not_before=not_before or now,
        not_after=not_after or now + timedelta(hours=12),
        attributes=[factory.fqan_attribute(vo, voms_host, fqans)],
        extensions=extension_list,
        version=version,
    )
    return factory.sign_ac(body, signer.private_key)


def with_signature_of(ac: cms.AttributeCertificateV2,
                      other: cms.AttributeCertificateV2) -> cms.AttributeCertificateV2:
    """C{ac}'s contents carrying C{other}'s signature: a tampered AC."""
    return cms.AttributeCertificateV2({
        "ac_info": ac["ac_info"].copy(),
        "signature_algorithm": other["signature_algorithm"].copy(),
        "signature": other["signature"].native,
    })


def voms_proxy(pki, parent: Credential, *acs: cms.AttributeCertificateV2, **proxy_options) -> Credential:
    """A proxy of C{parent} carrying C{acs} in one list, via C{pki.issue_proxy}."""
    return pki.issue_proxy(parent, extensions=[ac_extension(acs)], **proxy_options)

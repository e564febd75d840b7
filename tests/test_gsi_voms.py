"""
Tests for L{occid.gsi.voms}: the vomsdir loader, and rules V1-V7 and M1 on
ACs built in Python (hostile ones included) and, when the Debian grid tools
are installed, on proxies made by voms-proxy-fake.
"""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from hypothesis import given, settings
from hypothesis import strategies as st

from occid.gsi import voms as voms_module
from occid.gsi import vomssigner as vomssigner_module
from occid.gsi.chain import ChainOptions
from occid.gsi.dermemo import DerMemo
from occid.gsi.principal import GenericAttribute
from occid.gsi.proxy import validate_chain
from occid.gsi.trust import TrustStore
from occid.gsi.voms import find_acs, normalise_fqan, verify_acs
from occid.gsi.vomsasn1 import (
    AC_EXTENSION,
    CERTSEQ,
    NO_REV_AVAIL,
    TARGETS,
    CertSeq,
    SignerCertificates,
    parts_of,
    split_ac,
)
from occid.gsi.vomsdir import VomsDir
from occid.gsi.vomssigner import SignerCache
from tests import gridtools
from tests.pki import CA_DN, PKI, VOMS_DN, with_extension_twice
from tests.vomsfactory import OMIT, ac_extension, build_ac, voms_proxy, with_signature_of

NOW = datetime.now(UTC).replace(microsecond=0)
HOST = "occi.example.org"
VOMS_HOST = "voms.example.org"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A test PKI whose vomsdir trusts the VOMS signer for testvo and othervo."""
    pki = PKI(tmp_path_factory.mktemp("pki"), now=NOW)
    pki.lsc("testvo", VOMS_HOST)
    pki.lsc("othervo", VOMS_HOST)
    return pki


@pytest.fixture(scope="module")
def trust(pki):
    """The PKI's trust store."""
    return TrustStore.load(pki.certificates_dir, NOW)


@pytest.fixture(scope="module")
def vomsdir(pki):
    """The PKI's vomsdir, loaded."""
    return VomsDir.load(pki.vomsdir)


@pytest.fixture(scope="module")
def rogue(pki):
    """A VOMS signer with the genuine DN, from an untrusted CA."""
    rogue_ca = pki.issue_ca("/DC=org/DC=example/CN=Rogue Grid CA", trusted=False)
    return pki.issue_user(VOMS_DN, ca=rogue_ca)


def verdict_for(chain, pki, trust, vomsdir, *, host=HOST, now=NOW):
    """Validate C{chain} (leaf first) and check its ACs."""
    options = ChainOptions()
    facts = validate_chain(chain, (), trust, options, now)
    return verify_acs(facts, vomsdir, trust, options, host, now)


def check(pki, trust, vomsdir, *acs, **kwargs):
    """The verdict on a proxy of the test user carrying C{acs}."""
    return verdict_for(voms_proxy(pki, pki.user, *acs).chain, pki, trust, vomsdir, **kwargs)


def ac(pki, **options):
    """An AC for the test user signed by the genuine VOMS signer."""
    return build_ac(signer=pki.voms, holder=pki.user.certificate, now=NOW, **options)


def dropped_rule(verdict):
    """The single rule that dropped the single AC."""
    assert verdict.attributes is None
    assert len(verdict.dropped) == 1, verdict.dropped
    return verdict.dropped[0].rule


# --- vomsdir loading ---------------------------------------------------------


def test_vomsdir_lsc_chains_comments_and_separators(tmp_path):
    """LSC files: comments and blank lines are skipped; both separator
    spellings start a new chain; e-mail spellings are unified."""
    (tmp_path / "vo1").mkdir()
    (tmp_path / "vo1" / "voms.example.org.lsc").write_text(
        "# current\n"
        "/DC=org/CN=voms/Email=ops@example.org\n"
        "\n"
        "/DC=org/CN=CA\n"
        "------ NEXT CHAIN ------\n"
        "/DC=org/CN=voms2/E=ops@example.org\n"
        "/DC=org/CN=Sub CA\n"
        "/DC=org/CN=Sub CA\n"
        "/DC=org/CN=CA\n"
        "------NEXT CHAIN------\n"
        "/DC=org/CN=voms3/emailAddress=ops@example.org\n"
        "/DC=org/CN=CA\n"
    )
    loaded = VomsDir.load(str(tmp_path))
    assert loaded.problems == ()
    assert loaded.vos["vo1"].lsc["voms.example.org"] == (
        (("/DC=org/CN=voms/emailAddress=ops@example.org", "/DC=org/CN=CA"),),
        (
            ("/DC=org/CN=voms2/emailAddress=ops@example.org", "/DC=org/CN=Sub CA"),
            ("/DC=org/CN=Sub CA", "/DC=org/CN=CA"),
        ),
        (("/DC=org/CN=voms3/emailAddress=ops@example.org", "/DC=org/CN=CA"),),
    )


def test_vomsdir_odd_lsc_chain_reported(tmp_path):
    """A chain with an odd number of DN lines is skipped and reported; the
    file's other chains still count."""
    (tmp_path / "vo1").mkdir()
    (tmp_path / "vo1" / "h.lsc").write_text("/CN=a\n------ NEXT CHAIN ------\n/CN=b\n/CN=c\n")
    loaded = VomsDir.load(str(tmp_path))
    assert loaded.vos["vo1"].lsc["h"] == ((("/CN=b", "/CN=c"),),)
    assert len(loaded.problems) == 1 and "odd number" in loaded.problems[0]


def test_vomsdir_pem_certificates(tmp_path, pki):
    """PEM certificates in a VO directory are loaded; junk PEM is reported;
    files outside VO directories are ignored."""
    (tmp_path / "vo1").mkdir()
    with open(os.path.join(pki.directory, "vomscert.pem"), "rb") as f:
        (tmp_path / "vo1" / "voms.pem").write_bytes(f.read())
    junk = "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n"
    (tmp_path / "vo1" / "junk.pem").write_text(junk)
    (tmp_path / "README").write_text("not a VO")
    loaded = VomsDir.load(str(tmp_path))
    assert list(loaded.vos) == ["vo1"]
    assert loaded.vos["vo1"].certificates == (pki.voms.certificate,)
    assert len(loaded.problems) == 1 and "junk.pem" in loaded.problems[0]


def test_vomsdir_unreadable_certificate(tmp_path, pki):
    """A vomsdir PEM certificate whose extensions cannot be read is reported
    and left out, so it can never be a signer."""
    (tmp_path / "vo1").mkdir()
    twice = with_extension_twice(pki.voms.certificate, pki.ca.private_key, "2.5.29.15")
    (tmp_path / "vo1" / "voms.pem").write_bytes(twice.public_bytes(serialization.Encoding.PEM))
    loaded = VomsDir.load(str(tmp_path))
    assert loaded.vos["vo1"].certificates == ()
    assert len(loaded.problems) == 1 and "voms.pem: unreadable certificate" in loaded.problems[0]


# --- accepted ACs and M1 -----------------------------------------------------


def test_valid_ac(pki, trust, vomsdir):
    """A genuine AC gives the VO, the FQANs in order, the generic attributes
    and the AC's end of validity."""
    verdict = check(pki, trust, vomsdir, ac(
        pki,
        fqans=("/testvo", "/testvo/analysis/Role=admin"),
        generic_attributes=[("nickname", "tuser", "testvo")],
    ))
    assert verdict.dropped == ()
    attributes = verdict.attributes
    assert attributes.vo == "testvo"
    assert attributes.fqans == ("/testvo", "/testvo/analysis/Role=admin")
    assert attributes.attributes == (GenericAttribute(name="nickname", value="tuser", qualifier="testvo"),)
    assert attributes.not_after == NOW + timedelta(hours=12)


@pytest.mark.parametrize(
    "raw, normal",
    [
        ("/testvo/Role=NULL", "/testvo"),
        ("/testvo/Role=NULL/Capability=NULL", "/testvo"),
        ("/testvo/g/Role=admin/Capability=NULL", "/testvo/g/Role=admin"),
        ("/testvo/g/Role=admin", "/testvo/g/Role=admin"),
    ],
)
def test_normalise_fqan(raw, normal):
    """M1: /Role=NULL and /Capability=NULL are dropped, nothing else."""
    assert normalise_fqan(raw) == normal


def test_fqans_normalised_in_order(pki, trust, vomsdir):
    """M1: the accepted FQANs are normalised and keep the AC's order, the
    primary first."""
    verdict = check(pki, trust, vomsdir, ac(pki, fqans=(
        "/testvo/sub/Role=NULL/Capability=NULL", "/testvo/Role=NULL", "/testvo/Role=admin/Capability=NULL",
    )))
    assert verdict.attributes.fqans == ("/testvo/sub", "/testvo", "/testvo/Role=admin")


def test_rfc_holder_format(pki, trust, vomsdir):
    """V2: a holder naming the EEC's issuer (the RFC format) is accepted as
    well as one naming its subject."""
    verdict = check(pki, trust, vomsdir, ac(pki, holder_name=pki.user.certificate.issuer))
    assert verdict.attributes.vo == "testvo"


def test_first_valid_ac_wins(pki, trust, vomsdir):
    """Of several ACs (two VOs), a bad first one is dropped with its reason
    and the next good one is used."""
    expired = ac(pki, not_before=NOW - timedelta(days=2), not_after=NOW - timedelta(days=1))
    other = ac(pki, vo="othervo", fqans=("/othervo/Role=pilot",))
    verdict = check(pki, trust, vomsdir, expired, other)
    assert verdict.attributes.vo == "othervo"
    assert verdict.attributes.fqans == ("/othervo/Role=pilot",)
    assert [d.rule for d in verdict.dropped] == ["V3"]


def test_several_lists(pki, trust, vomsdir):
    """ACs from several VOMS servers (several inner lists) are all seen,
    in order."""
    proxy = pki.issue_proxy(pki.user, extensions=[ac_extension(
        [ac(pki, fqans=("/elsewhere",))], [ac(pki, vo="othervo", fqans=("/othervo",))]
    )])
    verdict = verdict_for(proxy.chain, pki, trust, vomsdir)
    assert verdict.attributes.vo == "othervo"
    assert [d.rule for d in verdict.dropped] == ["V7"]


def test_pem_signer_without_lsc(tmp_path, pki, trust):
    """V4: without an LSC, a PEM certificate in vomsdir/<vo>/ whose key
    verifies the AC makes it valid."""
    (tmp_path / "testvo").mkdir()
    with open(os.path.join(pki.directory, "vomscert.pem"), "rb") as f:
        (tmp_path / "testvo" / "voms.pem").write_bytes(f.read())
    verdict = check(pki, trust, VomsDir.load(str(tmp_path)), ac(pki))
    assert verdict.attributes.vo == "testvo"


def test_targets_listing_us(pki, trust, vomsdir):
    """V5: a critical targets extension listing our host is accepted."""
    verdict = check(pki, trust, vomsdir, ac(pki, targets=("other.example.org", HOST)))
    assert verdict.attributes.vo == "testvo"


@pytest.mark.parametrize("offset", [timedelta(minutes=4), timedelta(minutes=-4)])
def test_validity_within_skew(pki, trust, vomsdir, offset):
    """V3: an AC that starts or ends less than five minutes from now is
    accepted."""
    if offset > timedelta(0):
        window = dict(not_before=NOW + offset, not_after=NOW + timedelta(hours=1))
    else:
        window = dict(not_before=NOW - timedelta(hours=1), not_after=NOW + offset)
    assert check(pki, trust, vomsdir, ac(pki, **window)).attributes is not None


# --- V1: where ACs are looked for -------------------------------------------


def test_delegated_proxy(pki, trust, vomsdir):
    """V1: an AC in the first proxy is found below a delegated proxy."""
    first = voms_proxy(pki, pki.user, ac(pki))
    second = pki.issue_proxy(first)
    verdict = verdict_for(second.chain, pki, trust, vomsdir)
    assert verdict.attributes.vo == "testvo"


def test_nearest_proxy_wins(pki, trust, vomsdir):
    """V1: only the proxy nearest the leaf that carries ACs counts: a bad AC
    there hides a good one further down."""
    first = voms_proxy(pki, pki.user, ac(pki))
    expired = ac(pki, not_before=NOW - timedelta(days=2), not_after=NOW - timedelta(days=1))
    second = voms_proxy(pki, first, expired)
    verdict = verdict_for(second.chain, pki, trust, vomsdir)
    assert dropped_rule(verdict) == "V3"


def test_ac_in_end_entity_certificate_ignored(pki, trust, vomsdir):
    """V1: an AC in the EEC is never read."""
    user = pki.issue_user("/DC=org/DC=example/OU=Users/CN=Carrier", extensions=[
        ac_extension([build_ac(signer=pki.voms, holder=pki.user.certificate, now=NOW)])
    ])
    proxy = pki.issue_proxy(user)
    verdict = verdict_for(proxy.chain, pki, trust, vomsdir)
    assert (verdict.attributes, verdict.dropped) == (None, ())
    assert find_acs([user.certificate]) != ((), ())


def test_unparseable_extension(pki, trust, vomsdir):
    """V1: a VOMS extension that is not a list of ACs is dropped with a
    reason."""
    junk = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.8005.100.100.5"), b"\x04\x01x")
    proxy = pki.issue_proxy(pki.user, extensions=[(junk, False)])
    assert dropped_rule(verdict_for(proxy.chain, pki, trust, vomsdir)) == "V1"


# --- hostile ACs ---------------------------------------------------------------


def test_another_users_ac(pki, trust, vomsdir):
    """V2: an AC issued to another user, carried in my proxy, is dropped."""
    other = pki.issue_user("/DC=org/DC=example/OU=Users/CN=Other User")
    stolen = build_ac(signer=pki.voms, holder=other.certificate, now=NOW)
    assert dropped_rule(check(pki, trust, vomsdir, stolen)) == "V2"


def test_remembered_ac_still_checked_per_chain(pki, trust, vomsdir):
    """What was read from an accepted AC is remembered by its bytes, but
    the holder is checked against each chain's end-entity certificate: the
    same AC, accepted in my proxy, is dropped (V2) in another user's."""
    mine = ac(pki)
    assert check(pki, trust, vomsdir, mine).attributes.vo == "testvo"
    other = pki.issue_user("/DC=org/DC=example/OU=Users/CN=Replaying User")
    verdict = verdict_for(voms_proxy(pki, other, mine).chain, pki, trust, vomsdir)
    assert dropped_rule(verdict) == "V2"
    assert check(pki, trust, vomsdir, mine).attributes.vo == "testvo"


def test_new_ac_read_from_remembered_parts(pki, trust, vomsdir, monkeypatch):
    """A new AC of a user (new serial, validity and signature; the same
    issuer, FQANs, targets and generic attributes) is accepted without its
    FQAN attribute being read again, and its own fields are still checked:
    a new one expired is dropped (V3), one with a bad signature too (V4)."""
    options = dict(targets=[HOST], generic_attributes=[("nickname", "jane", "testvo")])
    assert check(pki, trust, vomsdir, ac(pki, **options)).attributes.vo == "testvo"
    reads = []
    real = voms_module._fqan_attribute
    monkeypatch.setattr(voms_module, "_fqan_attribute", lambda *a: reads.append(a) or real(*a))
    verdict = check(pki, trust, vomsdir, ac(pki, not_before=NOW - timedelta(minutes=1), **options))
    assert verdict.attributes.fqans == ("/testvo",) and verdict.attributes.attributes
    assert reads == []
    expired = ac(pki, not_before=NOW - timedelta(days=2), not_after=NOW - timedelta(days=1), **options)
    assert dropped_rule(check(pki, trust, vomsdir, expired)) == "V3"
    forged = with_signature_of(ac(pki, not_before=NOW - timedelta(minutes=2), **options), ac(pki, **options))
    assert dropped_rule(check(pki, trust, vomsdir, forged)) == "V4"


def test_der_memo_is_bounded_and_forgets_refusals():
    """A DerMemo keeps the most recently used answers only, and never a
    reader's refusal."""
    memo = DerMemo(size=2)
    calls = []

    def reader(value):
        def read():
            calls.append(value)
            if value == "bad":
                raise ValueError(value)
            return value
        return read

    for key in (b"a", b"b", b"a", b"c", b"a", b"b"):
        assert memo.read(key, reader(key.decode())) == key.decode()
    assert calls == ["a", "b", "c", "b"]
    for _ in range(2):
        with pytest.raises(ValueError):
            memo.read(b"x", reader("bad"))
    assert calls[-2:] == ["bad", "bad"]


def test_holder_serial_mismatch(pki, trust, vomsdir):
    """V2: an AC naming my DN but another certificate's serial is dropped."""
    wrong = ac(pki, holder_serial=pki.user.certificate.serial_number + 1)
    assert dropped_rule(check(pki, trust, vomsdir, wrong)) == "V2"


def test_holder_name_mismatch(pki, trust, vomsdir):
    """V2: an AC with my serial but another holder name is dropped."""
    wrong = ac(pki, holder_name=pki.voms.certificate.subject)
    assert dropped_rule(check(pki, trust, vomsdir, wrong)) == "V2"


def test_version_1(pki, trust, vomsdir):
    """V2: an AC of version 1 is dropped."""
    assert dropped_rule(check(pki, trust, vomsdir, ac(pki, version="v1"))) == "V2"


@pytest.mark.parametrize("when", ["expired", "future"])
def test_validity_beyond_skew(pki, trust, vomsdir, when):
    """V3: an AC that ended, or starts, more than five minutes from now is
    dropped."""
    if when == "expired":
        window = dict(not_before=NOW - timedelta(hours=2), not_after=NOW - timedelta(minutes=6))
    else:
        window = dict(not_before=NOW + timedelta(minutes=6), not_after=NOW + timedelta(hours=2))
    assert dropped_rule(check(pki, trust, vomsdir, ac(pki, **window))) == "V3"


def test_future_ac_says_when_it_becomes_acceptable(pki, trust, vomsdir):
    """V3: an AC dropped only for starting in the future records when V3
    accepts it (its start less the skew); an expired one, or one dropped
    for another rule, records nothing."""
    starts = NOW + timedelta(hours=1)
    future = ac(pki, not_before=starts, not_after=NOW + timedelta(hours=2))
    expired = ac(pki, not_before=NOW - timedelta(hours=2), not_after=NOW - timedelta(minutes=6))
    future_v1 = ac(pki, not_before=starts, not_after=NOW + timedelta(hours=2), version="v1")
    verdict = check(pki, trust, vomsdir, future, expired, future_v1)
    assert [d.rule for d in verdict.dropped] == ["V3", "V3", "V2"]
    assert [d.valid_from for d in verdict.dropped] == [starts - timedelta(minutes=5), None, None]


def test_tampered_attributes(pki, trust, vomsdir):
    """V4: FQANs changed after signing break the signature."""
    genuine = ac(pki, fqans=("/testvo",))
    forged = with_signature_of(ac(pki, fqans=("/testvo/Role=admin",)), genuine)
    verdict = check(pki, trust, vomsdir, forged)
    assert dropped_rule(verdict) == "V4"
    assert "signature" in verdict.dropped[0].reason


def test_rogue_signer_in_certseq(pki, trust, vomsdir, rogue):
    """V4: a same-DN signer from an untrusted CA, embedded in certseq, does
    not match the LSC (its issuer differs)."""
    forged = build_ac(signer=rogue, holder=pki.user.certificate, now=NOW)
    verdict = check(pki, trust, vomsdir, forged)
    assert dropped_rule(verdict) == "V4"
    assert "matches no chain" in verdict.dropped[0].reason


def test_rogue_signer_claiming_genuine_certseq(pki, trust, vomsdir, rogue):
    """V4: a rogue key signing an AC that embeds the genuine signer's
    certificate fails the signature check."""
    forged = build_ac(signer=rogue, holder=pki.user.certificate, now=NOW,
                      certseq=[pki.voms.certificate],
                      authority_key_id=pki.voms.certificate.extensions.get_extension_for_class(
                          x509.SubjectKeyIdentifier).value.digest)
    verdict = check(pki, trust, vomsdir, forged)
    assert dropped_rule(verdict) == "V4"
    assert "does not verify" in verdict.dropped[0].reason


def test_lsc_naming_an_untrusted_chain(tmp_path, pki, trust, rogue):
    """V4: an LSC that matches the embedded chain is not enough: the signer
    chain must validate against the trust store."""
    (tmp_path / "testvo").mkdir()
    (tmp_path / "testvo" / f"{VOMS_HOST}.lsc").write_text(f"{VOMS_DN}\n/DC=org/DC=example/CN=Rogue Grid CA\n")
    forged = build_ac(signer=rogue, holder=pki.user.certificate, now=NOW)
    verdict = check(pki, trust, VomsDir.load(str(tmp_path)), forged)
    assert dropped_rule(verdict) == "V4"
    assert "not trusted" in verdict.dropped[0].reason


def test_wrong_lsc(tmp_path, pki, trust):
    """V4: an LSC naming another issuer for the signer rejects a genuine AC."""
    (tmp_path / "testvo").mkdir()
    (tmp_path / "testvo" / f"{VOMS_HOST}.lsc").write_text(f"{VOMS_DN}\n/DC=org/DC=example/CN=Other CA\n")
    verdict = check(pki, trust, VomsDir.load(str(tmp_path)), ac(pki))
    assert dropped_rule(verdict) == "V4"


def test_lsc_without_certseq(pki, trust, vomsdir):
    """V4: with an LSC and no PEM, an AC without an embedded signer chain
    has no trusted signer."""
    verdict = check(pki, trust, vomsdir, ac(pki, certseq=OMIT))
    assert dropped_rule(verdict) == "V4"


def test_embedded_signer_with_an_extension_twice(pki, trust, vomsdir):
    """V4: an embedded signer certificate carrying an extension twice (the
    genuine signer's name and key, so the LSC matches) is not a trusted
    signer; the AC is dropped, nothing escapes."""
    twice = with_extension_twice(pki.voms.certificate, pki.ca.private_key, "2.5.29.15")
    verdict = check(pki, trust, vomsdir, ac(pki, certseq=[twice]))
    assert dropped_rule(verdict) == "V4"
    assert "an unreadable certificate" in verdict.dropped[0].reason


def test_embedded_signer_of_an_unknown_version(pki, trust, vomsdir):
    """V4: an embedded signer chain holding a certificate of X.509 version
    34 (unloadable) is unreadable; the AC is dropped."""
    der = pki.voms.certificate.public_bytes(serialization.Encoding.DER)
    version_field = bytes.fromhex("a003020102")  # [0] EXPLICIT INTEGER 2 (v3)
    bad = asn1_x509.Certificate.load(der.replace(version_field, bytes.fromhex("a003020121"), 1))
    certseq = CertSeq([SignerCertificates([bad])]).dump()
    verdict = check(pki, trust, vomsdir, ac(pki, certseq=OMIT, extra_extensions=[(CERTSEQ, certseq, False)]))
    assert dropped_rule(verdict) == "V4"
    assert "unreadable embedded signer chain" in verdict.dropped[0].reason


@pytest.fixture(scope="module")
def full_ac_extension(pki):
    """The DER of a proxy's AC extension whose AC uses every optional part."""
    return ac_extension([ac(pki, generic_attributes=[("n", "v", "q")], targets=[HOST])])[0].value


@settings(max_examples=80, deadline=None)
@given(position=st.integers(0, 10**6), byte=st.integers(0, 255))
def test_garbage_in_the_ac_extension(pki, trust, vomsdir, full_ac_extension, position, byte):
    """Whatever a byte of the proxy's AC extension is changed to, the
    verdict is a VO or dropped ACs, never an exception."""
    good = full_ac_extension
    index = position % len(good)
    mutated = good[:index] + bytes([byte]) + good[index + 1:]
    extension = x509.UnrecognizedExtension(x509.ObjectIdentifier(AC_EXTENSION), mutated)
    chain = pki.issue_proxy(pki.user, extensions=[(extension, False)]).chain
    verdict = verdict_for(chain, pki, trust, vomsdir)
    assert verdict.attributes is not None or verdict.dropped or mutated == good


@settings(max_examples=80, deadline=None)
@given(position=st.integers(0, 10**6), byte=st.integers(0, 255))
def test_sliced_parts_give_the_parsed_verdict(pki, trust, vomsdir, full_ac_extension, position, byte):
    """The rules read an AC's parts sliced out of its bytes (split_ac) when
    it has the expected shape, else from asn1crypto's parse (parts_of):
    whatever byte of the AC extension is changed, the verdict is the same
    both ways."""
    good = full_ac_extension
    index = position % len(good)
    mutated = good[:index] + bytes([byte]) + good[index + 1:]
    extension = x509.UnrecognizedExtension(x509.ObjectIdentifier(AC_EXTENSION), mutated)
    chain = pki.issue_proxy(pki.user, extensions=[(extension, False)]).chain
    sliced = verdict_for(chain, pki, trust, vomsdir)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(voms_module, "split_ac", lambda der: None)
        parsed = verdict_for(chain, pki, trust, vomsdir)
    assert sliced == parsed


def test_signature_with_impossible_unused_bits(pki, trust, vomsdir):
    """V1: an AC whose signature BIT STRING claims more unused bits than a
    byte has (a byte outside the signed part) is malformed, sliced or not."""
    der = bytearray(ac(pki).dump())
    der[-257] = 204  # the unused-bits count of an RSA-2048 signature
    tampered = cms.AttributeCertificateV2.load(bytes(der))
    assert split_ac(bytes(der)) is not None
    verdict = check(pki, trust, vomsdir, tampered)
    assert dropped_rule(verdict) == "V1" and "unused bits" in verdict.dropped[0].reason


def test_split_ac_is_the_parsed_parts(pki):
    """split_ac gives the bytes asn1crypto read for every part, with and
    without extensions, and refuses what is not exactly an AC."""
    with_extensions = ac(pki, generic_attributes=[("n", "v", "q")], targets=[HOST])
    info = with_extensions["ac_info"].copy()
    info["extensions"] = None
    without = cms.AttributeCertificateV2({"ac_info": info, "signature_algorithm": with_extensions[
        "signature_algorithm"].copy(), "signature": with_extensions["signature"].native})
    for each in (with_extensions, without):
        each = type(each).load(each.dump())
        assert split_ac(each.dump()) == parts_of(each)
    assert split_ac(without.dump()).extensions == b""
    der = with_extensions.dump()
    indefinite = b"\x30\x80" + der[4:] + b"\x00\x00"
    for broken in (der + b"\x00", der[:-1], indefinite, b"", b"\x30"):
        assert split_ac(broken) is None


# --- the signer cache ------------------------------------------------------------


class CountingValidations:
    """Counts the chain validations verify_acs asks for."""

    def __init__(self, monkeypatch):
        self.count = 0
        real = vomssigner_module.validate_chain

        def counting(*args):
            self.count += 1
            return real(*args)

        monkeypatch.setattr(vomssigner_module, "validate_chain", counting)


def test_signer_chain_validated_once(pki, trust, vomsdir, monkeypatch):
    """With a SignerCache, the signer chain embedded in the ACs of two users
    is validated once; both ACs are accepted."""
    users = (pki.user, pki.issue_user("/DC=org/DC=example/OU=Users/CN=Second User"))
    chains = [voms_proxy(pki, user, build_ac(signer=pki.voms, holder=user.certificate, now=NOW)).chain
              for user in users]
    facts = [validate_chain(chain, (), trust, ChainOptions(), NOW) for chain in chains]
    validations = CountingValidations(monkeypatch)
    signers = SignerCache()
    for each in facts:
        verdict = verify_acs(each, vomsdir, trust, ChainOptions(), HOST, NOW, signers)
        assert verdict.attributes.vo == "testvo"
    assert validations.count == 1


def test_cached_signer_revalidated_outside_its_validity(pki, trust, vomsdir, monkeypatch):
    """A cached signer chain stands only while its validation holds: once
    the signer certificate has expired, the AC is dropped (V4) as without
    the cache."""
    signer = pki.issue_user(VOMS_DN, not_after=NOW + timedelta(hours=1))
    long_ac = build_ac(signer=signer, holder=pki.user.certificate, now=NOW, not_after=NOW + timedelta(days=1))
    facts = validate_chain(voms_proxy(pki, pki.user, long_ac, lifetime=timedelta(days=1)).chain,
                           (), trust, ChainOptions(), NOW)
    validations = CountingValidations(monkeypatch)
    signers = SignerCache()
    assert verify_acs(facts, vomsdir, trust, ChainOptions(), HOST, NOW, signers).attributes is not None
    later = NOW + timedelta(hours=2)
    verdict = verify_acs(facts, vomsdir, trust, ChainOptions(), HOST, later, signers)
    assert dropped_rule(verdict) == "V4" and "expired" in verdict.dropped[0].reason
    assert validations.count == 2


def test_signer_cache_is_bounded(pki, trust, vomsdir):
    """The cache keeps the most recently used entries only."""
    signers = SignerCache(size=1)
    chains = [voms_proxy(pki, pki.user, build_ac(signer=s, holder=pki.user.certificate, now=NOW)).chain
              for s in (pki.voms, pki.issue_user(VOMS_DN))]
    ders = []
    for chain in chains:
        facts = validate_chain(chain, (), trust, ChainOptions(), NOW)
        assert verify_acs(facts, vomsdir, trust, ChainOptions(), HOST, NOW, signers).attributes is not None
        [found] = find_acs(facts.proxies)[0]
        ders += [e["extn_value"].contents for e in found["ac_info"]["extensions"]
                 if e["extn_id"].dotted == CERTSEQ]
    assert signers.get(ders[0], NOW) is None
    assert signers.get(ders[1], NOW).signer.certificate.subject == pki.voms.certificate.subject


def test_pem_of_another_key(tmp_path, pki, trust, rogue):
    """V4: a vomsdir PEM with the right DN but another key does not verify."""
    (tmp_path / "testvo").mkdir()
    with open(os.path.join(pki.directory, "vomscert.pem"), "rb") as f:
        (tmp_path / "testvo" / "voms.pem").write_bytes(f.read())
    forged = build_ac(signer=rogue, holder=pki.user.certificate, now=NOW)
    assert dropped_rule(check(pki, trust, VomsDir.load(str(tmp_path)), forged)) == "V4"


def test_issuer_not_signer(pki, trust, vomsdir):
    """V4: an AC whose issuer name is not the (genuine, LSC-listed) signer's
    DN is dropped."""
    wrong = ac(pki, issuer=x509.Name.from_rfc4514_string("CN=voms.elsewhere.org,DC=example,DC=org"))
    assert dropped_rule(check(pki, trust, vomsdir, wrong)) == "V4"


def test_aki_not_signer_ski(pki, trust, vomsdir):
    """V4: an authorityKeyIdentifier that does not name the signer's key is
    dropped."""
    wrong = ac(pki, authority_key_id=b"\x01" * 20)
    verdict = check(pki, trust, vomsdir, wrong)
    assert dropped_rule(verdict) == "V4"
    assert "authorityKeyIdentifier" in verdict.dropped[0].reason


def test_vo_without_vomsdir_entry(pki, trust, vomsdir):
    """V4: an AC of a VO the vomsdir does not know is dropped."""
    unknown = ac(pki, vo="unknownvo", fqans=("/unknownvo",))
    assert dropped_rule(check(pki, trust, vomsdir, unknown)) == "V4"


def test_unknown_critical_extension(pki, trust, vomsdir):
    """V5: an unknown critical extension drops the AC."""
    odd = ac(pki, extra_extensions=[("1.2.3.4.5", b"\x05\x00", True)])
    assert dropped_rule(check(pki, trust, vomsdir, odd)) == "V5"


def test_unknown_non_critical_extension(pki, trust, vomsdir):
    """V5: an unknown non-critical extension is ignored."""
    odd = ac(pki, extra_extensions=[("1.2.3.4.5", b"\x05\x00", False)])
    assert check(pki, trust, vomsdir, odd).attributes.vo == "testvo"


def test_targets_excluding_us(pki, trust, vomsdir):
    """V5: targets that do not list our host drop the AC."""
    verdict = check(pki, trust, vomsdir, ac(pki, targets=("other.example.org",)))
    assert dropped_rule(verdict) == "V5"


def test_empty_targets(pki, trust, vomsdir):
    """V5: an empty targets list (as voms-proxy-fake writes) drops the AC."""
    assert dropped_rule(check(pki, trust, vomsdir, ac(pki, targets=()))) == "V5"


def test_missing_no_rev_avail(pki, trust, vomsdir):
    """V6: an AC without noRevAvail is dropped."""
    assert dropped_rule(check(pki, trust, vomsdir, ac(pki, no_rev_avail=False))) == "V6"


def test_missing_aki(pki, trust, vomsdir):
    """V6: an AC without authorityKeyIdentifier is dropped."""
    assert dropped_rule(check(pki, trust, vomsdir, ac(pki, authority_key_id=OMIT))) == "V6"


@pytest.mark.parametrize("oid", [NO_REV_AVAIL, "2.5.29.35"])
def test_critical_no_rev_avail_or_aki(pki, trust, vomsdir, oid):
    """V6: noRevAvail and authorityKeyIdentifier must not be critical."""
    marked = ac(pki, critical=frozenset({TARGETS, oid}))
    assert dropped_rule(check(pki, trust, vomsdir, marked)) == "V6"


def test_fqan_outside_vo(pki, trust, vomsdir):
    """V7: a FQAN outside /<vo> drops the AC, even when the VO is a prefix
    of the FQAN's first group."""
    for fqans in (("/testvo", "/othervo/Role=admin"), ("/testvoX",)):
        assert dropped_rule(check(pki, trust, vomsdir, ac(pki, fqans=fqans))) == "V7"


def test_vo_mismatch(tmp_path, pki, trust):
    """V7: the signer trusted for one VO cannot vouch for another: an AC
    whose policyAuthority names othervo is checked against vomsdir/othervo
    only, where this signer is not listed."""
    (tmp_path / "testvo").mkdir()
    (tmp_path / "othervo").mkdir()
    (tmp_path / "testvo" / f"{VOMS_HOST}.lsc").write_text(f"{VOMS_DN}\n{CA_DN}\n")
    other_lsc = f"/DC=org/DC=example/OU=Services/CN=voms2\n{CA_DN}\n"
    (tmp_path / "othervo" / f"{VOMS_HOST}.lsc").write_text(other_lsc)
    loaded = VomsDir.load(str(tmp_path))
    assert check(pki, trust, loaded, ac(pki)).attributes.vo == "testvo"
    crossed = ac(pki, vo="othervo", fqans=("/othervo",))
    assert dropped_rule(check(pki, trust, loaded, crossed)) == "V4"



def test_fqans_deduplicated_after_normalisation(pki, trust, vomsdir):
    """M1: /testvo and /testvo/Role=NULL are one FQAN; it keeps the place of
    its first occurrence."""
    verdict = check(pki, trust, vomsdir, ac(pki, fqans=("/testvo/Role=NULL", "/testvo/g", "/testvo")))
    assert verdict.attributes.fqans == ("/testvo", "/testvo/g")


# --- proxies made by voms-proxy-fake ---------------------------------------------


def voms_proxy_info(pki, path):
    """
    What C{voms-proxy-info -all -file} prints (it parses, it does not
    validate): the VO, issuer and attribute lines of the first AC.
    """
    result = subprocess.run(
        ["voms-proxy-info", "-all", "-file", path],
        env=gridtools.environment(pki), capture_output=True, text=True, timeout=60,
    )
    section = result.stdout.split("extension information ===", 1)[1]
    fields = {}
    for line in section.splitlines():
        key, colon, value = line.partition(" : ")
        if colon:
            fields.setdefault(key.strip(), []).append(value.strip())
    return fields


def load_chain(path):
    """The certificates of a proxy file, leaf first."""
    with open(path, "rb") as f:
        return x509.load_pem_x509_certificates(f.read())


def tool_verdict(pki, trust, vomsdir, path, host=HOST):
    """Our verdict on the proxy file at C{path}, now."""
    now = datetime.now(UTC)
    return verdict_for(load_chain(path), pki, trust, vomsdir, host=host, now=now)


class TestVomsProxyFake:
    """Proxies made by the C tools, cross-checked with voms-proxy-info."""

    pytestmark = gridtools.grid_tools

    @pytest.mark.parametrize("vo, fqans", [
        ("testvo", ["/testvo", "/testvo/Role=NULL", "/testvo/analysis/Role=admin"]),
        ("othervo", ["/othervo/prod/Role=pilot", "/othervo", "/othervo/prod/sub"]),
    ])
    def test_vos_groups_roles(self, tmp_path, pki, trust, vomsdir, vo, fqans):
        """Several VOs, groups and roles: we read what voms-proxy-info
        prints, normalised (M1), and accept the AC."""
        path = gridtools.voms_proxy_fake(pki, str(tmp_path / "p.pem"), vo=vo, fqans=fqans)
        info = voms_proxy_info(pki, path)
        verdict = tool_verdict(pki, trust, vomsdir, path)
        assert verdict.dropped == ()
        assert info["VO"] == [verdict.attributes.vo] == [vo]
        assert info["issuer"] == [VOMS_DN]
        assert verdict.attributes.fqans == tuple(dict.fromkeys(normalise_fqan(f) for f in info["attribute"]))

    def test_expired_ac(self, tmp_path, pki, trust, vomsdir):
        """V3: -pastac makes an expired AC in a valid proxy: voms-proxy-info
        still prints it, we drop it."""
        path = gridtools.voms_proxy_fake(pki, str(tmp_path / "p.pem"), vo="testvo", fqans=["/testvo"],
                                         pastac="48:00", extra_args=["-vomslife", "1"])
        assert voms_proxy_info(pki, path)["attribute"] == ["/testvo"]
        assert dropped_rule(tool_verdict(pki, trust, vomsdir, path)) == "V3"

    def test_rogue_signer(self, tmp_path, pki, trust, vomsdir, rogue):
        """V4: an AC signed by a same-DN VOMS certificate from an untrusted
        CA is printed by voms-proxy-info and dropped by us."""
        rogue.write_pair(str(tmp_path / "rc.pem"), str(tmp_path / "rk.pem"))
        path = gridtools.voms_proxy_fake(pki, str(tmp_path / "p.pem"), vo="testvo", fqans=["/testvo"],
                                         hostcert=str(tmp_path / "rc.pem"), hostkey=str(tmp_path / "rk.pem"))
        assert voms_proxy_info(pki, path)["issuer"] == [VOMS_DN]
        assert dropped_rule(tool_verdict(pki, trust, vomsdir, path)) == "V4"

    def test_wrong_lsc(self, tmp_path, pki, trust):
        """V4: a genuine tool-made AC fails against an LSC naming another
        issuer."""
        path = gridtools.voms_proxy_fake(pki, str(tmp_path / "p.pem"), vo="testvo", fqans=["/testvo"])
        wrong = tmp_path / "vomsdir" / "testvo"
        wrong.mkdir(parents=True)
        (wrong / f"{VOMS_HOST}.lsc").write_text(f"{VOMS_DN}\n/DC=org/DC=example/CN=Another CA\n")
        verdict = tool_verdict(pki, trust, VomsDir.load(str(tmp_path / "vomsdir")), path)
        assert dropped_rule(verdict) == "V4"

    def test_newformat_holder(self, tmp_path, pki, trust, vomsdir):
        """V2: -newformat (holder = EEC issuer) is accepted."""
        path = gridtools.voms_proxy_fake(pki, str(tmp_path / "p.pem"), vo="testvo", fqans=["/testvo"],
                                         extra_args=["-newformat"])
        assert tool_verdict(pki, trust, vomsdir, path).attributes.vo == "testvo"

    def test_generic_attributes(self, tmp_path, pki, trust, vomsdir):
        """-ga: the generic attribute we read is the one voms-proxy-info
        prints."""
        path = gridtools.voms_proxy_fake(pki, str(tmp_path / "p.pem"), vo="testvo", fqans=["/testvo"],
                                         extra_args=["-ga", "nickname = tuser (testvo)"])
        (attribute,) = tool_verdict(pki, trust, vomsdir, path).attributes.attributes
        printed = [a for a in voms_proxy_info(pki, path)["attribute"] if " = " in a]
        assert printed == [f"{attribute.name} = {attribute.value} ({attribute.qualifier})"]
        # the tool keeps the space before "(" in the value; we report the AC as it is
        assert (attribute.name, attribute.value, attribute.qualifier) == ("nickname", "tuser ", "testvo")

    def test_delegated(self, tmp_path, pki, trust, vomsdir):
        """V1: after delegation with grid-proxy-init the AC stays in the
        first proxy and is still found."""
        first = gridtools.voms_proxy_fake(pki, str(tmp_path / "p.pem"), vo="testvo", fqans=["/testvo/g"])
        second = gridtools.grid_proxy_init(pki, str(tmp_path / "d.pem"), cert=first, key=first)
        assert len(load_chain(second)) == 3
        assert tool_verdict(pki, trust, vomsdir, second).attributes.fqans == ("/testvo/g",)

    def test_target_option_writes_empty_targets(self, tmp_path, pki, trust, vomsdir):
        """V5: voms-proxy-fake -target writes an empty critical targets
        list, which we refuse (docs/security.md)."""
        path = gridtools.voms_proxy_fake(pki, str(tmp_path / "p.pem"), vo="testvo", fqans=["/testvo"],
                                         extra_args=["-target", HOST])
        assert dropped_rule(tool_verdict(pki, trust, vomsdir, path)) == "V5"

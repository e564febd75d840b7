"""
Tests for L{occid.distribution.smime} and L{occid.distribution.hepix}: HEPiX
lists signed with C{openssl smime} by an endorser of the test CA are read;
tampered, foreign, expired and unknown-CA lists are refused with a reason.
"""

from datetime import UTC, datetime

import pytest

from occid.distribution.appliance import Refused
from occid.distribution.hepix import parse_list
from occid.distribution.smime import verify
from occid.gsi.trust import TrustStore
from tests.imagelists import ENDORSER_DN, endorser, image_entry, image_list, sign, soon
from tests.pki import PKI

SHA = "ab" * 64
NOW = datetime.now(UTC)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """The test PKI with an endorser certificate."""
    pki = PKI(tmp_path_factory.mktemp("pki"))
    pki.endorser = endorser(pki)
    return pki


def _trust(pki):
    return TrustStore.load(pki.certificates_dir, NOW)


def _list(**keys):
    return image_list([image_entry("c0482bc2", "https://127.0.0.1/x.qcow2", SHA, 1024)], **keys)


@pytest.mark.parametrize("opaque", [False, True])
def test_signed_list_read(pki, opaque):
    """A clear-signed or opaque list verifies, names its signer, and yields its image."""
    signed = verify(sign(_list(), *pki.endorser, opaque=opaque), _trust(pki), NOW)
    assert signed.signer == ENDORSER_DN
    assert signed.issuer == "/DC=org/DC=example/CN=Test Grid CA"
    read = parse_list(signed.content, "appdb", ENDORSER_DN, signed.signer, NOW)
    assert not read.expired and read.refused == ()
    appliance = read.appliances["c0482bc2"]
    assert (appliance.sha512, appliance.size, appliance.disk_format) == (SHA, 1024, "qcow2")
    assert appliance.reference == "https://appdb.example.org/store/vo/image/c0482bc2:1/"


def test_tampered(pki):
    """A list changed after signing is refused: its digest no longer matches."""
    message = sign(_list(), *pki.endorser).replace(b"Debian 12", b"Debian 13")
    with pytest.raises(Refused, match="does not match its signature"):
        verify(message, _trust(pki), NOW)


def test_unknown_ca(pki, tmp_path):
    """A list signed by a certificate of a CA outside the trust directory is refused."""
    rogue = pki.issue_ca("/DC=org/DC=rogue/CN=Rogue CA", trusted=False)
    message = sign(_list(), *endorser(pki, "/DC=org/DC=example/CN=mallory", ca=rogue))
    with pytest.raises(Refused, match="no CA of the trust directory issued"):
        verify(message, _trust(pki), NOW)


def test_wrong_endorser(pki):
    """A list signed by another certificate of the trusted CA is refused by the endorser check."""
    other = endorser(pki, "/DC=org/DC=example/OU=Hosts/CN=other.example.org")
    signed = verify(sign(_list(), *other), _trust(pki), NOW)
    with pytest.raises(Refused, match="not by the configured endorser"):
        parse_list(signed.content, "appdb", ENDORSER_DN, signed.signer, NOW)


def test_list_naming_another_endorser(pki):
    """A list whose hv:endorser is not the configured one is refused even when signed by it."""
    signed = verify(sign(_list(endorser="/CN=someone"), *pki.endorser), _trust(pki), NOW)
    with pytest.raises(Refused, match="names endorser"):
        parse_list(signed.content, "appdb", ENDORSER_DN, signed.signer, NOW)


def test_expired(pki):
    """An expired list is read as expired: its images are to be retired, none imported."""
    signed = verify(sign(_list(expires=soon(NOW, -1)), *pki.endorser), _trust(pki), NOW)
    assert parse_list(signed.content, "appdb", ENDORSER_DN, signed.signer, NOW).expired


def test_unsigned():
    """A bare JSON list is refused as unsigned."""
    with pytest.raises(Refused, match="not signed"):
        verify(b"Content-Type: application/json\n\n" + _list(), None, NOW)


def test_bad_images_refused_alone():
    """A bad entry is refused with its reason; an expired image is left out."""
    text = image_list([
        image_entry("good", "https://h/x", SHA, 10),
        image_entry("short", "https://h/x", "abc", 10),
        image_entry("ova", "https://h/x", SHA, 10, fmt="OVA"),
        image_entry("old", "https://h/x", SHA, 10, expires=soon(NOW, -1)),
    ])
    read = parse_list(text, "appdb", ENDORSER_DN, ENDORSER_DN, NOW)
    assert list(read.appliances) == ["good"]
    assert dict(read.refused) == {
        "short": "sl:checksum:sha512 is not 128 hex digits",
        "ova": read.refused[1][1]}
    assert "not one qemu-img reads" in read.refused[1][1]


def test_malformed_list():
    """A list missing required fields is refused naming them."""
    with pytest.raises(Refused, match="lacks dc:date:expires, hv:endorser"):
        parse_list(b'{"hv:imagelist": {"dc:date:created": "x"}}', "a", "/CN=x", "/CN=x", NOW)
    with pytest.raises(Refused, match="not JSON"):
        parse_list(b"{", "a", "/CN=x", "/CN=x", NOW)

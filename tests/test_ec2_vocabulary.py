"""
Tests for L{occid.ec2.vocabulary} and L{occid.ec2.tags}: the EC2 marker
mixins, the resource_tpl mixins of instance types, EC2 ids and the tags
occid keeps its state in.
"""

import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from xml.etree import ElementTree
from xml.sax.saxutils import escape

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from occid.ec2 import tags
from occid.ec2.vocabulary import (
    MARKERS,
    RESOURCE_TPL_SCHEME,
    instance_type_of,
    resource_tpl_mixin,
    valid_id,
)
from occid.gsi.principal import owner_hash
from occid.occi import infrastructure as infra
from occid.occi.catalog import Catalog
from occid.occi.errors import BadRequest
from occid.testing import make_binding, make_principal

TERM_11 = re.compile(r"^[a-z][a-z0-9_-]*$")


def test_markers_are_valid_static_categories():
    """The marker terms follow the OCCI 1.1 grammar and none clashes with a core category."""
    for marker in MARKERS:
        assert TERM_11.match(marker.term), marker
        assert marker.scheme.endswith("#")
        assert marker.location.startswith("/mixin/") and marker.location.endswith("/")
    catalog = Catalog(MARKERS)
    assert catalog.mixins == infra.MIXINS + MARKERS
    assert catalog.mixin_at("/mixin/aws_ec2_instance/") is MARKERS[0]


def test_resource_tpl_mixin():
    """An instance type becomes a template with default cores, memory, architecture."""
    mixin = resource_tpl_mixin("t3.micro", 2, 1, "x86_64")
    assert mixin.term == "t3_micro"
    assert mixin.title == "t3.micro - 2 cores and 1.0 GiB RAM"
    assert mixin.location == "/mixin/resource_tpl/t3_micro/"
    assert mixin.scheme == RESOURCE_TPL_SCHEME
    defaults = {a.name: a.default for a in mixin.attributes}
    assert defaults == {"occi.compute.architecture": "x64",
                        "occi.compute.cores": 2, "occi.compute.memory": 1.0}
    assert instance_type_of(mixin) == "t3.micro"
    assert infra.template_of([mixin], infra.RESOURCE_TPL) is mixin
    assert infra.template_of([mixin], infra.OS_TPL) is None


def test_resource_tpl_without_occi_architecture():
    """An arm64 type has no architecture default (not in the OCCI enum)."""
    mixin = resource_tpl_mixin("t4g.nano", 1, 0.5, "arm64")
    assert [a.name for a in mixin.attributes] == [
        "occi.compute.cores", "occi.compute.memory"]
    assert mixin.title == "t4g.nano - 1 core and 0.5 GiB RAM"


def test_valid_id():
    """EC2 ids have a prefix and 8 to 17 hex digits."""
    assert valid_id("i", "i-0123456789abcdef0")
    assert valid_id("vol", "vol-01234567")
    assert not valid_id("i", "vol-0123456789abcdef0")
    assert not valid_id("i", "i-xyz")


def test_tags_round_trip():
    """Key/Value lists and dicts convert both ways; network interfaces use TagSet."""
    as_list = tags.tag_list({"Name": "web", tags.OWNER_TAG: "abc"})
    assert tags.tag_dict({"Tags": as_list}) == {"Name": "web", "occid:owner": "abc"}
    assert tags.tag_dict({"TagSet": as_list})["Name"] == "web"
    assert tags.tag_dict({}) == {}
    assert tags.ownership({"Name": "x", tags.OWNER_TAG: "o", tags.VO_TAG: "v"}) == {
        tags.OWNER_TAG: "o", tags.VO_TAG: "v"}


def test_created_tag_round_trip():
    """The creation time is written in UTC to the second and read back."""
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert tags.created_at(tags.created_tag(now)) == now
    assert tags.created_at({}) is None
    assert tags.created_at({tags.CREATED_TAG: "yesterday"}) is None


def test_shown_states_filter():
    """The shown filter selects the four live states before any other filter."""
    extra = {"Name": "vpc-id", "Values": ["vpc-1"]}
    assert tags.shown([extra]) == [
        {"Name": "instance-state-name", "Values": list(tags.SHOWN_STATES)}, extra]


def _loaded(modules: tuple[str, ...], packages: set[str]) -> str:
    """Which of C{packages} a fresh interpreter loads with C{occid.ec2.<modules>}."""
    code = (
        "import sys\n"
        + "".join(f"import occid.ec2.{name}\n" for name in modules)
        + f"print(sorted({{n.split('.')[0] for n in sys.modules}} & set({sorted(packages)!r})))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, cwd=os.path.dirname(os.path.dirname(__file__)))
    return result.stdout.strip()


def test_pure_modules_import_neither_twisted_nor_boto():
    """The pure layers of the EC2 edge load without Twisted, boto3 or botocore."""
    modules = ("vocabulary", "tags", "intents", "scope", "mapping", "planning")
    assert _loaded(modules, {"twisted", "boto3", "botocore"}) == "[]"


def test_blocking_modules_import_no_twisted():
    """The blocking operations only call boto3: Twisted is the adapter's business."""
    modules = ("compute", "launch", "storage", "network", "links", "reconciler", "catalog")
    assert _loaded(modules, {"twisted"}) == "[]"


def test_owner_tags():
    """
    The ownership tags: owner hash of the DN, the DN itself, the binding's
    VO and the primary FQAN the resource was created with (accounting).
    """
    dn = "/DC=org/DC=example/OU=Users/CN=Test User"
    assert tags.owner_tags(make_principal(dn=dn, vo="alpha"), make_binding(vo="alpha")) == {
        tags.OWNER_TAG: owner_hash(dn), tags.DN_TAG: dn, tags.VO_TAG: "alpha",
        tags.FQAN_TAG: "/alpha"}


def test_owner_tags_of_a_robot_carry_no_fqan():
    """A robot (its binding's VO is C{@<account>}) has no FQAN to record."""
    made = tags.owner_tags(make_principal(vo=None), make_binding(vo="@fedcloud"))
    assert tags.FQAN_TAG not in made and made[tags.VO_TAG] == "@fedcloud"


def test_owner_tags_long_dn():
    """
    A DN longer than a tag value (256 characters) is left out; a DN of
    exactly 256 characters is kept.
    """
    for length, kept in ((257, False), (256, True)):
        dn = "/DC=org/CN=" + "x" * (length - len("/DC=org/CN="))
        made = tags.owner_tags(make_principal(dn=dn), make_binding())
        assert (tags.DN_TAG in made) is kept
        assert made[tags.OWNER_TAG] == owner_hash(dn)


def test_owner_tags_dn_with_control_character():
    """A DN holding a character an EC2 tag cannot carry is left out, as a long one is."""
    dn = "/DC=org/CN=Odd\x01User"
    made = tags.owner_tags(make_principal(dn=dn), make_binding())
    assert tags.DN_TAG not in made and made[tags.OWNER_TAG] == owner_hash(dn)


@pytest.mark.parametrize("text, problem", [
    ("t" * 256, None),
    ("t" * 257, "is 257 characters long; an EC2 tag holds at most 256"),
    ("\U0001f600" * 128, None),
    ("\U0001f600" * 129, "is 258 characters long"),
    ("tab\tnew\nline\r", None),
    ("a\x01", "holds the character U+0001, which an EC2 tag cannot carry"),
    ("\x00", "U+0000"),
    ("\ud800", "U+D800"),
    ("\uffff", "U+FFFF"),
])
def test_tag_problem(text, problem):
    """At most 256 UTF-16 units, nothing XML 1.0 cannot carry."""
    found = tags.tag_problem(text)
    assert found == problem if problem is None else problem in found


def test_tag_key_limit():
    """Keys are held to 128."""
    assert tags.tag_problem("k" * 128, tags.TAG_KEY_LIMIT) is None
    assert "at most 128" in tags.tag_problem("k" * 129, tags.TAG_KEY_LIMIT)


def test_tag_value_names_the_attribute():
    """The refusal is a 400 naming the attribute and the rule."""
    with pytest.raises(BadRequest, match="attribute occi.core.title is 300 characters long; "
                                         "an EC2 tag holds at most 256"):
        tags.tag_value("x" * 300, tags.TITLE)
    assert tags.tag_value("fine", tags.TITLE) == "fine"


@settings(max_examples=300, deadline=None)
@given(text=st.text(st.characters(codec="utf-8") | st.sampled_from(["\x00", "\x01", "\ufffe"]),
                    max_size=300))
def test_accepted_tag_values_come_back_through_xml(text):
    """
    Whatever the rule accepts survives the way back: written in an XML
    answer (as EC2 writes it) and parsed again, it is the same text.
    """
    if tags.tag_problem(text) is not None:
        return
    answer = f"<value>{escape(text)}</value>".encode()
    parsed = ElementTree.fromstring(answer).text or ""
    assert parsed.replace("\r\n", "\n").replace("\r", "\n") == \
        text.replace("\r\n", "\n").replace("\r", "\n")

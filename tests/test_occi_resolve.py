"""Tests for L{occid.occi.resolve}: documents checked against a catalog."""

import pytest

from occid.ec2.vocabulary import instance_type_of, resource_tpl_mixin
from occid.occi import infrastructure as infra
from occid.occi.catalog import Catalog
from occid.occi.errors import BadRequest, Forbidden
from occid.occi.model import CategoryRef, Document, LinkRef
from occid.occi.rendering import parse
from occid.occi.resolve import (
    action_for_trigger,
    categories_filter,
    changes_for_update,
    filter_from,
    link_for_create,
    resource_for_create,
)
from tests.occivectors import section_headers, sections

HOST = "occi.example.org"
AMI = infra.os_tpl_mixin("ami-971238f1", "Ubuntu", HOST)
T2_MICRO = resource_tpl_mixin("t2.micro", 1, 1.0, "x86_64")
CATALOG = Catalog([AMI, T2_MICRO, infra.availability_zone_mixin("eu-west-1a", HOST)])
ROCCI_OS_TPL = b"http://occi.host/occi/infrastructure/os_tpl#"
OUR_OS_TPL = AMI.scheme.encode()


def _rocci(prefix):
    """The rOCCI-cli capture section starting with C{prefix}, our os_tpl scheme in."""
    (body,) = [v for k, v in sections("rocci-cli-4.3-requests.txt").items()
               if k.startswith(prefix)]
    return body.replace(ROCCI_OS_TPL, OUR_OS_TPL)


def _doc(body, content_type="text/plain"):
    return parse(content_type, [], body)


def _create_forms():
    return {
        "text/plain": _doc(_rocci("text/plain body")),
        "text/occi": parse("text/occi", section_headers(_rocci("text/occi headers")), b""),
        "json": _doc(_rocci("application/occi+json body"), "application/occi+json"),
    }


@pytest.mark.parametrize("form", ["text/plain", "text/occi", "json"])
def test_rocci_create_forms(form):
    """Each rOCCI-cli create form resolves to the VM it asks for, client ids ignored."""
    resource = resource_for_create(_create_forms()[form], infra.COMPUTE, CATALOG)
    assert resource.kind is infra.COMPUTE and resource.id == ""
    assert resource.mixins == [AMI, T2_MICRO, infra.OPENSTACK_PUBLIC_KEY]
    assert instance_type_of(infra.template_of(
        resource.mixins, infra.RESOURCE_TPL)) == "t2.micro"
    assert resource.attributes == {
        "occi.core.title": "VMbyX", "occi.compute.hostname": "VMbyX",
        "org.openstack.credentials.publickey.data":
            "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 user@host"}
    (link,) = resource.links
    assert link.kind is infra.NETWORKINTERFACE
    assert (link.id, link.source, link.target) == ("", "", "/network/vpc-e2e4f686")
    assert link.target_kind is infra.NETWORK and link.attributes == {}


def test_three_create_forms_agree():
    """text/plain, text/occi and legacy JSON resolve to the same Resource."""
    resources = [resource_for_create(d, infra.COMPUTE, CATALOG)
                 for d in _create_forms().values()]
    assert resources[0] == resources[1] == resources[2]


@pytest.mark.parametrize("prefix,content_type", [
    ("trigger stop text/plain", "text/plain"),
    ("trigger stop json", "application/occi+json"),
])
def test_rocci_trigger(prefix, content_type):
    """rOCCI-cli's stop bodies name compute's stop action, without parameters."""
    action, parameters = action_for_trigger(
        _doc(_rocci(prefix), content_type), "stop", infra.COMPUTE, CATALOG)
    assert action is infra.COMPUTE_STOP and parameters == {}


def test_rocci_trigger_headers():
    """The text/occi trigger form resolves the same way."""
    document = parse("text/occi", section_headers(_rocci("trigger stop text/occi")), b"")
    assert action_for_trigger(document, "stop", infra.COMPUTE, CATALOG)[0] is (
        infra.COMPUTE_STOP)


@pytest.mark.parametrize("prefix,content_type", [
    ("link (--action link) text/plain", "text/plain"),
    ("link json", "application/occi+json"),
])
def test_rocci_link(prefix, content_type):
    """rOCCI-cli's link bodies become a networkinterface to the public network."""
    link = link_for_create(_doc(_rocci(prefix), content_type),
                           infra.NETWORKINTERFACE, CATALOG)
    assert (link.source, link.target, link.id) == (
        "/compute/i-0123456789abcdef0", "/network/public", "")
    assert link.source_kind is infra.COMPUTE and link.target_kind is infra.NETWORK
    assert link.attributes == {}


def _compute_doc(*extra_categories, **attributes):
    categories = [CategoryRef(term="compute", scheme=infra.INFRASTRUCTURE, cls="kind")]
    categories += list(extra_categories)
    return Document(categories=categories, attributes=attributes)


def _ref(category):
    return CategoryRef(term=category.term, scheme=category.scheme,
                       cls=category.category_class)


def test_create_errors():
    """Wrong kind, unknown or inapplicable mixins, bad values, immutables, required."""
    with pytest.raises(BadRequest, match="exactly one kind"):
        resource_for_create(_compute_doc(), infra.STORAGE, CATALOG)
    with pytest.raises(BadRequest, match="exactly one kind"):
        resource_for_create(Document(), infra.COMPUTE, CATALOG)
    with pytest.raises(BadRequest, match="unknown mixin"):
        resource_for_create(_compute_doc(CategoryRef(
            term="x", scheme="http://e.org/s#", cls="mixin")), infra.COMPUTE, CATALOG)
    with pytest.raises(Forbidden):
        resource_for_create(_compute_doc(_ref(infra.IPNETWORK)), infra.COMPUTE, CATALOG)
    with pytest.raises(BadRequest, match="cores must be an integer"):
        resource_for_create(_compute_doc(**{"occi.compute.cores": 1.5}),
                            infra.COMPUTE, CATALOG)
    with pytest.raises(BadRequest, match="one of x86, x64"):
        resource_for_create(_compute_doc(**{"occi.compute.architecture": "arm"}),
                            infra.COMPUTE, CATALOG)
    with pytest.raises(Forbidden, match="occi.compute.state"):
        resource_for_create(_compute_doc(**{"occi.compute.state": "active"}),
                            infra.COMPUTE, CATALOG)
    with pytest.raises(BadRequest, match="not defined"):
        resource_for_create(_compute_doc(**{"com.example.x": "y"}),
                            infra.COMPUTE, CATALOG)
    with pytest.raises(BadRequest, match="publickey is required"):
        resource_for_create(_compute_doc(_ref(infra.SSH_KEY)), infra.COMPUTE, CATALOG)
    storage = Document(categories=[_ref(infra.STORAGE)])
    with pytest.raises(BadRequest, match="occi.storage.size is required"):
        resource_for_create(storage, infra.STORAGE, CATALOG)


@pytest.mark.parametrize(("mixin", "name"), [
    (infra.SSH_KEY, "occi.credentials.ssh.publickey"),
    (infra.USER_DATA, "occi.compute.userdata"),
    (infra.OPENSTACK_PUBLIC_KEY, "org.openstack.credentials.publickey.data"),
    (infra.OPENSTACK_USER_DATA, "org.openstack.compute.user_data"),
])
@pytest.mark.parametrize("blank", ["", "   ", "\t\n"])
def test_blank_key_or_user_data_is_refused(mixin, name, blank):
    """An empty SSH key or user data is 400 naming it, not a VM one cannot log into."""
    document = _compute_doc(_ref(mixin), **{name: blank})
    with pytest.raises(BadRequest, match=f"attribute {name} is empty"):
        resource_for_create(document, infra.COMPUTE, CATALOG)


def test_blank_optional_attribute_is_kept():
    """A blank title is a title: only required and contextualization attributes must be set."""
    entity = resource_for_create(_compute_doc(**{"occi.core.title": " "}), infra.COMPUTE, CATALOG)
    assert entity.attributes["occi.core.title"] == " "


def test_create_coercion_and_aliases():
    """Numbers coerce per definition; OOI's misspelt key names are accepted."""
    resource = resource_for_create(_compute_doc(
        _ref(infra.SSH_KEY),
        **{"occi.compute.memory": 2, "occi.compute.cores": "4",
           "occi.credentials.ssh_key": "ssh-ed25519 AAAA k"}), infra.COMPUTE, CATALOG)
    assert resource.attributes == {
        "occi.compute.memory": 2.0, "occi.compute.cores": 4,
        "occi.credentials.ssh.publickey": "ssh-ed25519 AAAA k"}
    assert isinstance(resource.attributes["occi.compute.memory"], float)


def test_inline_link_kinds():
    """Inline link kinds come from category= or else the target's collection."""
    document = _compute_doc()
    document.links = [
        LinkRef(target="https://h:11443/storage/vol-1", rel=(infra.STORAGE.identifier,),
                attributes={"occi.storagelink.deviceid": "/dev/xvdf",
                            "occi.core.id": "client"}),
        LinkRef(target="/network/public", rel=(infra.NETWORK.identifier,),
                categories=(infra.NETWORKINTERFACE.identifier,
                            infra.IPNETWORKINTERFACE.identifier)),
    ]
    volume, public = resource_for_create(document, infra.COMPUTE, CATALOG).links
    assert volume.kind is infra.STORAGELINK and volume.target == "/storage/vol-1"
    assert volume.attributes == {"occi.storagelink.deviceid": "/dev/xvdf"}
    assert public.mixins == [infra.IPNETWORKINTERFACE]
    document.links = [LinkRef(target="/elsewhere/x", rel=("http://e.org/s#k",))]
    with pytest.raises(BadRequest, match="which kind of link"):
        resource_for_create(document, infra.COMPUTE, CATALOG)
    document.links = [LinkRef(target="/compute/i-1?action=stop",
                              rel=(infra.COMPUTE_STOP.identifier,))]
    with pytest.raises(BadRequest, match="action link"):
        resource_for_create(document, infra.COMPUTE, CATALOG)


def test_link_create_requires_ends():
    """A link create without a target is a BadRequest."""
    document = Document(categories=[_ref(infra.STORAGELINK)],
                        attributes={"occi.core.source": "/compute/i-1"})
    with pytest.raises(BadRequest, match="occi.core.target is required"):
        link_for_create(document, infra.STORAGELINK, CATALOG)


def test_update():
    """Updates: template mixins and attributes; no links, kind changes or immutables."""
    document = Document(categories=[_ref(infra.COMPUTE), _ref(T2_MICRO)],
                        attributes={"occi.core.title": "renamed", "occi.core.id": "x"})
    changes = changes_for_update(document, infra.COMPUTE, CATALOG, replace=True)
    assert changes.mixins == [T2_MICRO] and changes.replace
    assert changes.attributes == {"occi.core.title": "renamed"}
    with pytest.raises(BadRequest, match="kind"):
        changes_for_update(Document(categories=[_ref(infra.STORAGE)]),
                           infra.COMPUTE, CATALOG, replace=False)
    with pytest.raises(BadRequest, match="links"):
        changes_for_update(Document(links=[LinkRef(target="/network/x", rel=("a#b",))]),
                           infra.COMPUTE, CATALOG, replace=True)
    with pytest.raises(Forbidden):
        changes_for_update(Document(attributes={"occi.compute.state": "active"}),
                           infra.COMPUTE, CATALOG, replace=False)


def test_full_update_keeps_restated_immutables():
    """A PUT may restate immutable attributes (the provider compares them); a POST may not."""
    document = Document(categories=[_ref(infra.COMPUTE)],
                        attributes={"occi.compute.state": "active", "occi.core.title": "t"})
    changes = changes_for_update(document, infra.COMPUTE, CATALOG, replace=True)
    assert changes.attributes == {"occi.compute.state": "active", "occi.core.title": "t"}
    with pytest.raises(Forbidden):
        changes_for_update(document, infra.COMPUTE, CATALOG, replace=False)
    with pytest.raises(BadRequest, match="must be one of"):
        changes_for_update(Document(attributes={"occi.compute.state": "gone"}),
                           infra.COMPUTE, CATALOG, replace=True)


def test_trigger_rules():
    """The ?action= term must match; the action must belong to the kind; typed params."""
    empty = Document()
    assert action_for_trigger(empty, "start", infra.COMPUTE, CATALOG) == (
        infra.COMPUTE_START, {})
    with pytest.raises(BadRequest, match="has no action"):
        action_for_trigger(empty, "up", infra.COMPUTE, CATALOG)
    stop = Document(categories=[_ref(infra.COMPUTE_STOP)], attributes={"method": "poweroff"})
    assert action_for_trigger(stop, "stop", infra.COMPUTE, CATALOG)[1] == {
        "method": "poweroff"}
    with pytest.raises(BadRequest, match="does not match"):
        action_for_trigger(stop, "start", infra.COMPUTE, CATALOG)
    with pytest.raises(BadRequest, match="has no action"):
        action_for_trigger(Document(categories=[_ref(infra.NETWORK_UP)]), "up",
                           infra.COMPUTE, CATALOG)
    bad = Document(categories=[_ref(infra.COMPUTE_STOP)], attributes={"method": "now"})
    with pytest.raises(BadRequest, match="method"):
        action_for_trigger(bad, "stop", infra.COMPUTE, CATALOG)
    with pytest.raises(BadRequest, match="needs the parameter size"):
        action_for_trigger(empty, "resize", infra.STORAGE, CATALOG)


def test_filters():
    """Collection filters keep what was named; the QI filter picks categories."""
    document = Document(categories=[_ref(AMI)], attributes={"occi.compute.state": "active"})
    entity_filter = filter_from(document)
    assert entity_filter.categories == (AMI.identifier,)
    assert entity_filter.attributes == {"occi.compute.state": "active"}
    assert categories_filter(document, CATALOG) == (AMI,)
    assert len(categories_filter(Document(), CATALOG)) == (
        len(CATALOG.kinds) + len(CATALOG.mixins) + len(CATALOG.actions))

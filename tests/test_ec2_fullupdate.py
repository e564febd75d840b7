"""
The rules of a full update (PUT) in L{occid.ec2.fullupdate}, on plain
entities: restated immutable values pass, changed ones are 403, what the
provider cannot set or remove is 409, what it sets is reset when omitted.
"""

import pytest

from occid.ec2.fullupdate import dropped_mixins, replaced_attributes, same_value
from occid.ec2.vocabulary import EC2_INSTANCE, resource_tpl_mixin
from occid.occi import infrastructure as infra
from occid.occi.errors import Conflict, Forbidden
from occid.occi.model import Changes, Resource

OS_TPL = infra.os_tpl_mixin("ami-0123456789abcdef0", "debian", "occi.test")
MICRO = resource_tpl_mixin("t3.micro", 2, 1.0, "x86_64")
SMALL = resource_tpl_mixin("t3.small", 2, 2.0, "x86_64")
CURRENT = Resource(kind=infra.COMPUTE, id="i-0123456789abcdef0", mixins=[OS_TPL, MICRO, EC2_INSTANCE],
                   attributes={"occi.core.title": "vm", "occi.compute.state": "active",
                               "occi.compute.memory": 1.0,
                               "com.amazon.aws.ec2.state": "running"})


def full(mixins=(OS_TPL, MICRO, EC2_INSTANCE), **attributes) -> Changes:
    """A full update of CURRENT with C{attributes} over its own."""
    return Changes(mixins=list(mixins), attributes=dict(CURRENT.attributes, **attributes),
                   replace=True)


def test_restated_values_pass_and_omitted_title_resets():
    """The entity restated is accepted; the title is what the update says, "" when omitted."""
    assert replaced_attributes(CURRENT, full(**{"occi.compute.memory": "1.0"}),
                               ("occi.core.title",)) == {"occi.core.title": "vm"}
    untitled = full()
    del untitled.attributes["occi.core.title"]
    assert replaced_attributes(CURRENT, untitled, ("occi.core.title",)) == {"occi.core.title": ""}


def test_changing_immutable_is_403_and_derived_409():
    """A changed immutable attribute is Forbidden; a changed one the provider derives, Conflict."""
    with pytest.raises(Forbidden, match="com.amazon.aws.ec2.state"):
        replaced_attributes(CURRENT, full(**{"com.amazon.aws.ec2.state": "stopped"}), ())
    with pytest.raises(Conflict, match="occi.compute.memory"):
        replaced_attributes(CURRENT, full(**{"occi.compute.memory": 4.0}), ())


def test_mixins_dropped():
    """A sibling template is a change; a dropped mixin is removed only when removable."""
    assert dropped_mixins(CURRENT, full(mixins=(OS_TPL, SMALL, EC2_INSTANCE))) == []
    with pytest.raises(Conflict, match="aws_ec2_instance"):
        dropped_mixins(CURRENT, full(mixins=(OS_TPL, MICRO)))
    assert dropped_mixins(CURRENT, full(mixins=(OS_TPL, MICRO)),
                          lambda m: m == EC2_INSTANCE) == [EC2_INSTANCE]


def test_same_value():
    """Numbers compare as numbers, the rest as text; nothing equals only the empty value."""
    assert same_value(1.0, "1") and same_value(2, 2.0) and not same_value(1.0, "x")
    assert same_value(True, "True") and same_value(None, "") and not same_value(None, "a")

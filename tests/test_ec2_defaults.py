"""
The pure choices of L{occid.ec2.defaults}: the smallest instance type, the
checks against a resource_tpl, and a free /16 of the network pool.
"""

import pytest

from occid.ec2.defaults import check_template_sizes, free_block, requested_sizes, smallest_type
from occid.ec2.vocabulary import resource_tpl_mixin
from occid.occi.errors import BadRequest, Conflict

TYPES = [resource_tpl_mixin("m5.large", 2, 8.0, "x86_64"),
         resource_tpl_mixin("t3.small", 2, 2.0, "x86_64"),
         resource_tpl_mixin("c5.xlarge", 4, 8.0, "x86_64"),
         resource_tpl_mixin("t3a.small", 2, 2.0, "x86_64"),
         resource_tpl_mixin("t3.nano", 2, 0.5, "x86_64")]


@pytest.mark.parametrize("cores, memory, chosen", [
    (None, 1.0, "t3_small"),  # the name breaks the tie with t3a.small
    (2, None, "t3_nano"),
    (None, 3.6, "m5_large"),  # 2 cores first: m5.large before c5.xlarge
    (3, None, "c5_xlarge"),
    (2, 2.0, "t3_small"),
])
def test_smallest_type(cores, memory, chosen):
    """The smallest type by cores, then memory, then name, that holds the request."""
    assert smallest_type(TYPES, cores, memory).term == chosen


def test_no_type_large_enough():
    """A request no type holds is a BadRequest naming it and the largest type."""
    with pytest.raises(BadRequest, match=r"occi.compute.cores=8 and occi.compute.memory=1 .*c5_xlarge"):
        smallest_type(TYPES, 8, 1)


def test_template_contradictions():
    """Values equal to the template pass; different ones are a BadRequest naming both."""
    small = TYPES[1]
    check_template_sizes(small, 2, 2.0)
    check_template_sizes(small, None, None)
    with pytest.raises(BadRequest, match="t3_small"):
        check_template_sizes(small, 4, None)
    with pytest.raises(BadRequest, match="occi.compute.memory=3"):
        check_template_sizes(small, None, 3)


def test_requested_sizes():
    """Cores and memory as numbers; absent ones None; text that is no number a BadRequest."""
    assert requested_sizes({"occi.compute.cores": 4, "occi.compute.memory": "3.6"}) == (4.0, 3.6)
    assert requested_sizes({}) == (None, None)
    with pytest.raises(BadRequest):
        requested_sizes({"occi.compute.cores": "many"})


def test_free_block():
    """The first /16 of the pool that overlaps no block in use; 409 when none is left."""
    assert free_block("10.0.0.0/8", []) == "10.0.0.0/16"
    assert free_block("10.0.0.0/8", ["10.0.0.0/16", "10.1.4.0/24", "172.31.0.0/16"]) == "10.2.0.0/16"
    assert free_block("10.0.0.0/8", ["10.0.0.0/15", "fd00::/64", "nonsense"]) == "10.2.0.0/16"
    assert free_block("192.168.0.0/16", []) == "192.168.0.0/16"
    with pytest.raises(Conflict, match="10.0.0.0/15"):
        free_block("10.0.0.0/15", ["10.0.0.0/8"])

"""
A property of the whole web stack: whatever method, path, headers and body a
client sends, occid answers with a proper HTTP response carrying C{Server},
never a 500, and nothing reaches the log as an unhandled failure.
"""

import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.internet.testing import EventLoggingObserver
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from occid.server.respond import SERVER_HEADER
from tests.gateway import make_gateway

COMPUTE = (
    'Category: compute; scheme="http://schemas.ogf.org/occi/infrastructure#"; class="kind"\n'
    'Category: ami-0123456789abcdef0; '
    'scheme="http://occi.occi.example.org/occi/infrastructure/os_tpl#"; class="mixin"\n'
    'X-OCCI-Attribute: occi.core.title="vm"\n'
)
PATHS = [
    "/", "/-/", "/.well-known/org/ogf/occi/-/", "/compute/", "/storage/", "/network/",
    "/link/networkinterface/", "/link/storagelink/", "/mixin/os_tpl/",
    "/mixin/os_tpl/ami-0123456789abcdef0/", "/mixin/resource_tpl/t3_micro/",
    "/compute/{vm}", "/compute/i-0", "/nowhere",
]
SAFE = string.ascii_letters + string.digits + "-_.~%=&?/;"
HEADER_NAMES = [
    "Accept", "Content-Type", "Category", "X-OCCI-Attribute", "Link", "X-OCCI-Location",
    "User-Agent", "X-OCCI-Category", "Location", "X-Anything",
]
HEADER_VALUES = st.one_of(
    st.sampled_from([
        "text/plain", "text/occi", "text/uri-list", "application/occi+json", "*/*",
        "text/plain,text/occi", "application/json", "text/html", "OCCI/2.0", "OCCI/1.1",
        'compute; scheme="http://schemas.ogf.org/occi/infrastructure#"; class="kind"',
        'stop; scheme="http://schemas.ogf.org/occi/infrastructure/compute/action#"; class="action"',
        'occi.core.title="x"', "occi.compute.cores=2", "</network/public>; rel=\"x\"",
    ]),
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=60),
)
BODIES = st.one_of(
    st.binary(max_size=200),
    st.sampled_from([COMPUTE.encode(), b"{}", b'{"resources": [{}]}', b"Category: \n"]),
    st.text(max_size=200).map(lambda t: t.encode("utf-8")),
)


class NoRequestMakesA500Tests(SynchronousTestCase):
    """The whole web stack under arbitrary requests."""

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        method=st.sampled_from(["GET", "HEAD", "OPTIONS", "POST", "PUT", "DELETE", "PATCH", "FOO"]),
        path=st.sampled_from(PATHS),
        suffix=st.text(SAFE, max_size=20),
        headers=st.lists(st.tuples(st.sampled_from(HEADER_NAMES), HEADER_VALUES), max_size=5),
        body=BODIES,
    )
    def test_no_request_makes_a_500(self, method, path, suffix, headers, body):
        """Arbitrary requests get a framed response with Server, not a 500, and log no failure."""
        gateway = make_gateway()
        created = gateway.request(
            "POST", "/compute/", [("Content-Type", "text/plain")], COMPUTE.encode()
        )
        vm = created.header("Location").rsplit("/", 1)[1]
        events = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        response = gateway.request(method, path.format(vm=vm) + suffix, headers, body)
        assert 200 <= response.status < 600
        assert response.status != 500, response
        assert response.header("Server") == SERVER_HEADER
        assert not [e for e in events if "log_failure" in e]

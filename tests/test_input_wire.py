"""
Bad input over the wire (issue 17, points 3 and 4): the real daemon over
TLS on 127.0.0.1, moto as EC2, requests sent as raw bytes through Python's
C{ssl} (L{tests.daemon.tls_request}).  Each input that gave a 500 gets a
4xx naming the attribute and the rule (a 501 for an OCCI version above
1.2); a title EC2 would store but could not give back is refused before any
EC2 call, so the listings that follow still answer 200; and a bounded,
seeded fuzz run gets no 500 and leaves no traceback in the log.
"""

from __future__ import annotations

import json
import random
import time

import pytest

from tests.daemon import Daemon, started, tls_request
from tests.motoserver import ec2_client
from tests.vomsfactory import build_ac, voms_proxy

pytestmark = pytest.mark.moto

COMPUTE_KIND = 'compute; scheme="http://schemas.ogf.org/occi/infrastructure#"; class="kind"'
OS_TPL = ('ami-0a1b2c3d4e5f60001; scheme="http://occi.localhost/occi/infrastructure/os_tpl#"; '
          'class="mixin"')
KIND_ID = "http://schemas.ogf.org/occi/infrastructure#compute"
OS_TPL_ID = "http://occi.localhost/occi/infrastructure/os_tpl#ami-0a1b2c3d4e5f60001"
PLAIN = [("Content-Type", "text/plain")]
JSON = [("Content-Type", "application/occi+json")]

#: The fuzz run's bounds: requests, seconds and seed.
FUZZ_REQUESTS, FUZZ_SECONDS, FUZZ_SEED = 400, 60.0, 17


def plain_compute(*attributes: str) -> bytes:
    """A text/plain compute create with the X-OCCI-Attribute values C{attributes}."""
    lines = [f"Category: {COMPUTE_KIND}", f"Category: {OS_TPL}"]
    lines += [f"X-OCCI-Attribute: {attribute}" for attribute in attributes]
    return "\n".join(lines).encode("utf-8") + b"\n"


def json_compute(attributes: object) -> bytes:
    """An application/occi+json compute create with C{attributes} as written."""
    return (f'{{"kind": "{KIND_ID}", "mixins": ["{OS_TPL_ID}"], '
            f'"attributes": {attributes}}}').encode()


@pytest.fixture(scope="module")
def proxy(pki, tmp_path_factory):
    """A VOMS proxy of testvo, made by the Python factory."""
    ac = build_ac(signer=pki.voms, holder=pki.user.certificate, now=pki.now, vo="testvo",
                  fqans=["/testvo"])
    return voms_proxy(pki, pki.user, ac).write(str(tmp_path_factory.mktemp("proxy") / "p.pem"))


@pytest.fixture(scope="module")
def daemon(pki, moto_server, tmp_path_factory):
    """One daemon for the module, on a freshly reset moto."""
    moto_server.reset()
    daemon = Daemon(str(tmp_path_factory.mktemp("occid")), pki, moto_server.endpoint)
    yield from started(daemon)


@pytest.fixture(scope="module")
def ec2(daemon, moto_server):
    """boto3 on the daemon's moto (not reset again)."""
    return ec2_client(moto_server.endpoint)


def send(daemon, proxy, method, path, headers=(), body=b""):
    """One request; the answer with its body as text."""
    response = tls_request(daemon, proxy, method, path, list(headers), body)
    return response.status, response.body.decode("utf-8", "replace")


def assert_clean_log(daemon, mark):
    """Nothing after C{mark} in the daemon's log is a traceback or an unhandled error."""
    logged = daemon.log(mark)
    assert "Traceback" not in logged, logged[-4000:]
    assert "Unhandled" not in logged, logged[-4000:]


# -- point 3: each input that gave a 500 -----------------------------------------

INPUTS = {
    "5000-digit integer, text/plain": (
        "POST", "/compute/", PLAIN, plain_compute("occi.compute.cores=" + "9" * 5000),
        400, ["occi.compute.cores", "more than 20 digits"]),
    "5000-digit integer, text/occi": (
        "POST", "/compute/",
        [("Content-Type", "text/occi"), ("Category", COMPUTE_KIND), ("Category", OS_TPL),
         ("X-OCCI-Attribute", "occi.compute.memory=" + "1" * 5000)], b"",
        400, ["occi.compute.memory", "more than 20 digits"]),
    "integer beyond 2**63-1, text/plain": (
        "POST", "/compute/", PLAIN, plain_compute("occi.compute.cores=9223372036854775808"),
        400, ["occi.compute.cores", "signed 64-bit integer"]),
    "real 1e999, text/plain": (
        "POST", "/compute/", PLAIN, plain_compute("occi.compute.memory=1e999"),
        400, ["occi.compute.memory", "not a finite number"]),
    "JSON 10**400": (
        "POST", "/compute/", JSON, json_compute('{"occi.compute.cores": ' + "1" + "0" * 400 + "}"),
        400, ["attributes.occi.compute.cores", "more than 20 digits"]),
    "JSON 1e400": (
        "POST", "/compute/", JSON, json_compute('{"occi.compute.memory": 1e400}'),
        400, ["attributes.occi.compute.memory", "not a finite number"]),
    "JSON NaN": (
        "POST", "/compute/", JSON, json_compute('{"occi.compute.memory": NaN}'),
        400, ["attributes.occi.compute.memory", "NaN"]),
    "JSON NUL then half a surrogate pair": (
        "POST", "/compute/", JSON, json_compute('{"occi.core.title": "a\\u0000\\ud83d"}'),
        400, ["attributes.occi.core.title", "U+0000"]),
    "JSON lone surrogate": (
        "POST", "/compute/", JSON, json_compute('{"occi.core.title": "\\udc00x"}'),
        400, ["attributes.occi.core.title", "U+DC00"]),
    "JSON nested 100 deep": (
        "POST", "/compute/", JSON, b'{"attributes": ' + b'{"a": ' * 100 + b"1" + b"}" * 101,
        400, ["deeper than 32 levels"]),
    "JSON list for the body": (
        "POST", "/compute/", JSON, b'[{"kind": "x"}]', 400, ["must be an object"]),
    "JSON list for attributes": (
        "POST", "/compute/", JSON, json_compute("[1, 2]"), 400, ["must be an object"]),
    "JSON object for the kind": (
        "POST", "/compute/", JSON, b'{"kind": {"term": "compute"}}', 400, ["not a category"]),
    "JSON list for an attribute value": (
        "POST", "/compute/", JSON, json_compute('{"occi.core.title": ["a"]}'),
        400, ["occi.core.title", "unsupported value"]),
    "JSON object for mixins": (
        "POST", "/compute/", JSON,
        f'{{"kind": "{KIND_ID}", "mixins": {{"a": 1}}}}'.encode(), 400, ["list of strings"]),
    "JSON string for links": (
        "POST", "/compute/", JSON,
        f'{{"kind": "{KIND_ID}", "links": "x"}}'.encode(), 400, ["links must be a list"]),
    "User-Agent OCCI/9999999999999999999999999": (
        "GET", "/-/", [("User-Agent", "OCCI/9999999999999999999999999")], b"",
        501, ["OCCI/1.1 and OCCI/1.2", "OCCI/9999"]),
    "User-Agent OCCI/1.<5000 digits>": (
        "GET", "/-/", [("User-Agent", "client OCCI/1." + "9" * 5000)], b"",
        501, ["OCCI/1.1 and OCCI/1.2"]),
}


@pytest.mark.parametrize("name", sorted(INPUTS))
def test_input_of_point_3(daemon, proxy, name):
    """Each input of issue 17 point 3: the 4xx (501) that says why, and no traceback."""
    method, path, headers, body, status, reasons = INPUTS[name]
    mark = daemon.log_mark()
    answered, text = send(daemon, proxy, method, path, headers, body)
    assert answered == status, text
    for reason in reasons:
        assert reason in text, text
    assert_clean_log(daemon, mark)


# -- point 4: titles EC2 would store and could not give back ---------------------

POISONS = {
    "\\x01 in a text/plain title": (PLAIN, plain_compute('occi.core.title="a\x01b"'),
                                     ["occi.core.title", "U+0001"]),
    "\\x01 in a JSON title": (JSON, json_compute('{"occi.core.title": "a\\u0001b"}'),
                              ["occi.core.title", "U+0001"]),
    "300-character title": (PLAIN, plain_compute(f'occi.core.title="{"t" * 300}"'),
                             ["occi.core.title", "300 characters", "at most 256"]),
    "U+FFFF in a JSON title": (JSON, json_compute('{"occi.core.title": "\\uffff"}'),
                               ["occi.core.title", "U+FFFF"]),
}


@pytest.mark.parametrize("name", sorted(POISONS))
def test_poisoning_create_refused(daemon, proxy, ec2, name):
    """
    A create whose title EC2 would store and botocore could not read back
    is 400 naming the attribute and the rule, before any EC2 call (nothing
    launched), and the listings that follow answer 200.
    """
    headers, body, reasons = POISONS[name]
    before = _instances(ec2)
    status, text = send(daemon, proxy, "POST", "/compute/", headers, body)
    assert status == 400, text
    for reason in reasons:
        assert reason in text, text
    assert _instances(ec2) == before
    assert send(daemon, proxy, "GET", "/compute/")[0] == 200
    assert send(daemon, proxy, "GET", "/storage/")[0] == 200


def _instances(ec2):
    return sorted(instance["InstanceId"]
                  for reservation in ec2.describe_instances()["Reservations"]
                  for instance in reservation["Instances"])


def test_poisoning_update_refused(daemon, proxy):
    """
    A rename of a compute to a title holding U+0001, or of 257 characters,
    is 400 and leaves the title as it was; a title of 256 characters (astral
    ones counting twice, as EC2 counts them) is kept, and the listing reads
    it back.
    """
    created = tls_request(daemon, proxy, "POST", "/compute/", PLAIN,
                          plain_compute('occi.core.title="kept"'))
    assert created.status == 201, created
    location = "/compute/" + created.header("Location").rsplit("/compute/", 1)[1]
    for title, reason in (("a\x01", "U+0001"), ("u" * 257, "at most 256"),
                          ("\U0001f600" * 129, "258 characters")):
        status, text = send(daemon, proxy, "POST", location, PLAIN,
                            f'X-OCCI-Attribute: occi.core.title="{title}"\n'.encode())
        assert status == 400, text
        assert "occi.core.title" in text and reason in text, text
    status, text = send(daemon, proxy, "GET", location)
    assert status == 200 and 'occi.core.title="kept"' in text, text
    longest = "\U0001f600" * 100 + "v" * 56
    status, text = send(daemon, proxy, "POST", location, PLAIN,
                        f'X-OCCI-Attribute: occi.core.title="{longest}"\n'.encode())
    assert status == 200, text
    status, text = send(daemon, proxy, "GET", "/compute/", [("Accept", "application/occi+json")])
    assert status == 200, text
    assert longest in text


def test_user_mixin_identifier_beyond_a_tag(daemon, proxy):
    """
    A user mixin whose scheme and term fit 256 characters but not 256 UTF-16
    units (what an EC2 tag holds, as its membership tag must) is refused
    before it is stored; the query interface still answers 200.
    """
    scheme = "http://e.org/" + "\U0001f600" * 120 + "#"
    status, text = send(daemon, proxy, "POST", "/-/", PLAIN, (
        f'Category: wide; scheme="{scheme}"; class="mixin"; location="/mixin/user/wide/"\n'
    ).encode())
    assert status == 400, text
    assert "the scheme and term of a user mixin is 258 characters long" in text, text
    status, text = send(daemon, proxy, "GET", "/-/")
    assert status == 200 and "/mixin/user/wide/" not in text


# -- the fuzz run ------------------------------------------------------------------

USER_AGENTS = [
    "OCCI/1.1", "OCCI/1.2", "OCCI/2.0", "OCCI/9999999999999999999999999", "OCCI/1." + "9" * 5000,
    "OCCI/", "OCCI/x.y", "rOCCI-cli OCCI/1.1 OCCI/1.2", "OCCI/1.2.3", "OCCI/-1.0", "\u00ff OCCI/1",
]
ACCEPTS = ["*/*", "text/plain", "text/occi", "application/occi+json", "application/json",
           "text/uri-list", "text/html", "text/plain;q=x", "*/*;q=1e999", ",,,", "a/b;q=0.5"]
CONTENT_TYPES = ["text/plain", "text/occi", "application/occi+json", "application/json",
                 "text/uri-list", "text/plain; charset=latin-1", "x/y", "", ";;", "text/plain,text/occi"]
PATHS = ["/", "/-/", "/.well-known/org/ogf/occi/-/", "/compute/", "/storage/", "/network/",
         "/link/networkinterface/", "/link/storagelink/", "/mixin/os_tpl/", "/compute/i-0",
         "/compute/%00", "/compute/%ff%fe", "/compute/../storage/", "/compute/?action=stop",
         "/compute/i-" + "9" * 3000, "/-/?x=%01", "//compute//", "/compute/;a=b", "/mixin/x/y/z/"]
METHODS = ["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"]
ODD_NUMBERS = ["9" * 5000, "1e400", "-1e400", "1" + "0" * 25, "0.000000000000000000000001",
               "-9223372036854775809", "NaN", "Infinity", "1e-400"]
ODD_STRINGS = ["\\u0000", "\\ud800", "\\udfff\\ud800", "\\u0001", "\\uffff", "\\u0000\\ud83d",
               "x" * 300, "\\n\\r\\t", "\\u2028"]
ODD_JSON = ["[]", "{}", "null", "true", "[[[[[]]]]]", '{"a": {"b": {"c": []}}}', '""', "1e400",
            "9" * 30, '"' + "\\ud800" + '"', "[" * 40 + "]" * 40]
#: Requests that are valid or nearly so, to mutate: (method, path, body).
SEEDS_PLAIN = [
    ("POST", "/compute/", plain_compute('occi.core.title="fuzz"', "occi.compute.cores=1")),
    ("POST", "/compute/", plain_compute('occi.core.title="x"', "occi.compute.memory=0.5")),
    ("POST", "/compute/", (f"Category: {COMPUTE_KIND}\nCategory: {OS_TPL}\n"
                           "Link: </network/public>; "
                           'rel="http://schemas.ogf.org/occi/infrastructure#network"\n').encode()),
    ("POST", "/storage/", b'Category: storage; scheme="http://schemas.ogf.org/occi/infrastructure#"; '
                          b'class="kind"\nX-OCCI-Attribute: occi.storage.size=1\n'
                          b'X-OCCI-Attribute: occi.core.title="v"\n'),
    ("POST", "/compute/?action=stop",
     b'Category: stop; scheme="http://schemas.ogf.org/occi/infrastructure/compute/action#"; '
     b'class="action"\n'),
    ("POST", "/-/", b'Category: fuzzmixin; scheme="http://example.org/fuzz#"; class="mixin"; '
                    b'location="/mixin/fuzz/"; title="fuzz"\n'),
    ("GET", "/compute/", f"Category: {COMPUTE_KIND}\n".encode()),
]
SEEDS_JSON = [
    ("POST", "/compute/", {"kind": KIND_ID, "mixins": [OS_TPL_ID],
                           "attributes": {"occi.core.title": "fuzz", "occi.compute.cores": 1}}),
    ("POST", "/compute/", {"resources": [{"kind": KIND_ID, "mixins": [OS_TPL_ID],
                                          "attributes": {"occi": {"core": {"title": "t"}}}}]}),
    ("POST", "/compute/?action=stop",
     {"action": "http://schemas.ogf.org/occi/infrastructure/compute/action#stop",
      "attributes": {"method": "graceful"}}),
    ("POST", "/-/", {"mixins": [{"term": "fm", "scheme": "http://example.org/fuzz#",
                                 "location": "/mixin/fm/", "title": "fm"}]}),
    ("POST", "/link/storagelink/", {"kind": "http://schemas.ogf.org/occi/infrastructure#storagelink",
                                    "source": "/compute/i-0", "target": {"location": "/storage/vol-0"}}),
    ("POST", "/storage/", {"kind": "http://schemas.ogf.org/occi/infrastructure#storage",
                           "attributes": {"occi.storage.size": 1, "occi.core.title": "v"}}),
    ("POST", "/network/", {"kind": "http://schemas.ogf.org/occi/infrastructure#network",
                           "attributes": {"occi.network.address": "10.9.0.0/24"}}),
]


def _mutate_bytes(rng: random.Random, data: bytes) -> bytes:
    """C{data} with a few bytes inserted, replaced or cut at random places."""
    data = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        where = rng.randint(0, len(data))
        choice = rng.random()
        if choice < 0.4:
            data[where:where] = rng.choice([b"\x00", b"\x01", b"\xff", b'"', b"\\", b";", b",",
                                            b"=", b"\n", b"\r", b"{", b"}", b"<", b"\xed\xa0\x80",
                                            rng.choice(ODD_NUMBERS).encode()])
        elif choice < 0.7:
            data[where:where + rng.randint(1, 20)] = b""
        else:
            data[where:where] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    return bytes(data)


def _mutate_json(rng: random.Random, value: object, depth: int = 0) -> object:
    """C{value} with members and items replaced by odd numbers, strings and shapes."""
    if isinstance(value, dict):
        return {key: _mutate_json(rng, item, depth + 1) for key, item in value.items()}
    if isinstance(value, list):
        return [_mutate_json(rng, item, depth + 1) for item in value]
    if rng.random() < 0.3:
        return _Raw(rng.choice(ODD_NUMBERS + ODD_JSON + [f'"{rng.choice(ODD_STRINGS)}"']))
    return value


class _Raw(str):
    """JSON text written as is by L{_dumps}."""


def _dumps(value: object) -> str:
    """JSON text of C{value}, L{_Raw} parts as they are."""
    if isinstance(value, _Raw):
        return str(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {_dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_dumps(v) for v in value) + "]"
    return json.dumps(value)


def _fuzzed_request(rng: random.Random) -> tuple[str, str, list[tuple[str, str]], bytes]:
    """One mutated request: method, path, headers, body."""
    headers: list[tuple[str, str]] = []
    shape = rng.random()
    if shape < 0.35:
        method, path, seed = rng.choice(SEEDS_PLAIN)
        headers.append(("Content-Type", "text/plain"))
        body = _mutate_bytes(rng, seed)
    elif shape < 0.7:
        method, path, value = rng.choice(SEEDS_JSON)
        headers.append(("Content-Type", rng.choice(["application/occi+json", "application/json"])))
        body = _dumps(_mutate_json(rng, value)).encode("utf-8", "surrogatepass")
        if rng.random() < 0.3:
            body = _mutate_bytes(rng, body)
    else:
        method, path, seed = rng.choice(SEEDS_PLAIN)
        headers.append(("Content-Type", "text/occi"))
        body = b""
        for line in seed.decode().splitlines():
            name, _, value = line.partition(": ")
            if rng.random() < 0.5:
                value = _mutate_bytes(rng, value.encode()).decode("latin-1")
                value = value.replace("\n", " ").replace("\r", " ")
            headers.append((name, value))
    if rng.random() < 0.15:
        method = rng.choice(METHODS)
    if rng.random() < 0.15:
        path = rng.choice(PATHS)
    if rng.random() < 0.2:
        headers.append(("User-Agent", rng.choice(USER_AGENTS)))
    if rng.random() < 0.2:
        headers.append(("Accept", rng.choice(ACCEPTS)))
    if rng.random() < 0.1:
        headers[0] = ("Content-Type", rng.choice(CONTENT_TYPES))
    return method, path, headers, body


def test_fuzz(daemon, proxy):
    """
    L{FUZZ_REQUESTS} mutated requests (or L{FUZZ_SECONDS} seconds, whichever
    comes first; seed L{FUZZ_SEED}): no 500, no traceback or unhandled error
    in the log, and the fuzzing user's listings still answer 200.
    """
    rng = random.Random(FUZZ_SEED)
    mark = daemon.log_mark()
    deadline = time.monotonic() + FUZZ_SECONDS
    statuses: dict[int, int] = {}
    sent = 0
    while sent < FUZZ_REQUESTS and time.monotonic() < deadline:
        method, path, headers, body = _fuzzed_request(rng)
        response = tls_request(daemon, proxy, method, path, headers, body)
        assert response.status != 500, (method, path, headers, body, response)
        statuses[response.status] = statuses.get(response.status, 0) + 1
        sent += 1
    assert sent >= 100, f"only {sent} requests in {FUZZ_SECONDS} s"
    assert_clean_log(daemon, mark)
    for path in ("/compute/", "/storage/"):
        status, text = send(daemon, proxy, "GET", path)
        assert status == 200, (path, text)
    print(f"fuzz: {sent} requests, statuses {sorted(statuses.items())}")

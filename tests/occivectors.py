"""
Readers for the OCCI test vectors in C{tests/vectors/}: files as bytes, HTTP
header captures as (name, value) pairs, the sectioned request and rendering
captures by section name, and the GFD.225 JSON schema by definition.
"""

import json
from pathlib import Path

import jsonschema

VECTORS = Path(__file__).parent / "vectors"


def vector(relative: str) -> bytes:
    """The bytes of one vector file."""
    return (VECTORS / relative).read_bytes()


def header_lines(relative: str) -> list[tuple[str, str]]:
    """
    A captured HTTP header block as (name, value) pairs; lines without a
    C{name:} prefix (the status line) are skipped.
    """
    pairs = []
    for line in vector(relative).decode("utf-8").splitlines():
        name, colon, value = line.partition(":")
        if colon and name and " " not in name:
            pairs.append((name, value.strip()))
    return pairs


def sections(relative: str) -> dict[str, bytes]:
    """The C{===== <name>} sections of a capture file, by name."""
    result: dict[str, list[str]] = {}
    current = None
    for line in vector(relative).decode("utf-8").splitlines(keepends=True):
        if line.startswith("===== "):
            current = line[6:].strip()
            result[current] = []
        elif current is not None:
            result[current].append(line)
    return {name: "".join(lines).strip("\n").encode("utf-8") + b"\n"
            for name, lines in result.items()}


def section_headers(section: bytes) -> list[tuple[str, str]]:
    """A section holding header lines, as (name, value) pairs."""
    pairs = []
    for line in section.decode("utf-8").splitlines():
        name, _, value = line.partition(":")
        pairs.append((name, value.strip()))
    return pairs


def schema_validator(definition: str) -> jsonschema.Draft4Validator:
    """A Draft 4 validator for one definition of the OCCI 1.2 JSON schema."""
    definitions = json.loads(vector("occi-1.2-schema.json"))["definitions"]
    return jsonschema.Draft4Validator(
        {"$ref": f"#/definitions/{definition}", "definitions": definitions})

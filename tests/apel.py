"""
Parsers of the three APEL message kinds, written in the tests from the
format facts (EGI's APEL cloud v0.4, STAR, public IP v0.2), independent of
occid's writer: they refuse what an APEL server would refuse and turn each
record into plain values with their units, for the tests to check.
"""

from __future__ import annotations

import json
from xml.etree import ElementTree

#: v0.4 cloud fields, by type.
CLOUD_INTEGERS = {"StartTime", "EndTime", "SuspendDuration", "WallDuration", "CpuDuration",
                  "NetworkInbound", "NetworkOutbound", "PublicIPCount", "Memory", "Disk"}
CLOUD_DECIMALS = {"CpuCount", "Benchmark"}
CLOUD_STRINGS = {"RecordCreateTime", "VMUUID", "SiteName", "CloudComputeService", "MachineName",
                 "LocalUserId", "LocalGroupId", "GlobalUserName", "FQAN", "Status",
                 "NetworkType", "BenchmarkType", "StorageRecordId", "ImageId", "CloudType"}
CLOUD_MANDATORY = {"VMUUID", "SiteName"}
STATUSES = {"started", "completed", "error", "paused", "suspended", "stopped", "unknown"}

SR = "{http://eu-emi.eu/namespaces/2011/02/storagerecord}"
STAR_MANDATORY = {"RecordId", "CreateTime", "StorageSystem", "StartTime", "EndTime",
                  "ResourceCapacityUsed"}


def parse_cloud(message: str) -> list[dict]:
    """
    The records of a cloud message: header split on its first C{:}, body
    split on C{%%} lines, C{Key: Value} lines, NULL as None, numbers typed;
    at most 100 records, each with the mandatory fields.
    """
    header, newline, body = message.partition("\n")
    assert newline and message.endswith("\n")
    kind, _, version = header.partition(":")
    assert (kind.strip(), version.strip()) == ("APEL-cloud-message", "v0.4")
    records = []
    for chunk in body.split("\n%%\n"):
        record: dict = {}
        for line in chunk.strip("\n").split("\n"):
            key, colon, value = line.partition(": ")
            assert colon, f"not a Key: Value line: {line!r}"
            assert key not in record, f"{key} twice"
            value = value.strip()
            if value == "NULL":
                record[key] = None
            elif key in CLOUD_INTEGERS:
                record[key] = int(value)
            elif key in CLOUD_DECIMALS:
                record[key] = float(value)
            else:
                assert key in CLOUD_STRINGS, f"unknown field {key}"
                assert len(value) <= 255, f"{key} too long"
                record[key] = value
        assert record.keys() >= CLOUD_MANDATORY
        assert record.get("Status") in STATUSES | {None}
        records.append(record)
    assert 1 <= len(records) <= 100
    return records


def parse_star(message: str) -> list[dict]:
    """The records of a STAR message: mandatory fields present, capacity in bytes."""
    root = ElementTree.fromstring(message)
    assert root.tag == SR + "StorageUsageRecords"
    records = []
    for element in root:
        assert element.tag == SR + "StorageUsageRecord"
        identity = element.find(SR + "RecordIdentity")
        record = {"RecordId": identity.get(SR + "recordId"), "CreateTime": identity.get(SR + "createTime")}
        for child in element:
            if child.tag == SR + "SubjectIdentity":
                record.update({sub.tag[len(SR):]: sub.text for sub in child})
            elif child.tag != SR + "RecordIdentity":
                record[child.tag[len(SR):]] = child.text
        assert {key for key, value in record.items() if value} >= STAR_MANDATORY
        record["ResourceCapacityUsed"] = int(record["ResourceCapacityUsed"])
        records.append(record)
    assert 1 <= len(records) <= 100
    return records


def parse_ip(message: str) -> list[dict]:
    """The records of a public IP message (JSON v0.2)."""
    document = json.loads(message)
    assert (document["Type"], document["Version"]) == ("APEL Public IP message", "0.2")
    records = document["UsageRecords"]
    for record in records:
        assert {"SiteName", "CloudType", "CloudComputeService", "uuid", "IPVersion", "IPCount",
                "MeasurementTime"} <= record.keys()
        assert record["IPVersion"] in (4, 6) and record["IPCount"] >= 1
    assert 1 <= len(records) <= 100
    return records

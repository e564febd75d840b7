# -*- test-case-name: tests.test_ec2_usermixins -*-
"""
The user-defined mixins of one AWS account, kept in SSM Parameter Store
(docs/state.md, "User mixins"): one C{String} parameter per definition,
C{/occid/mixins/<name>}, in the account's region, whose value is a JSON
object (scheme, term, title, location, owner hash, VO, creation time).
SSM refuses a second parameter of the same name (C{Overwrite=False}), so two
occid processes cannot both take one location.

L{Definitions} keeps what it read for at most L{DEFINITIONS_TTL} seconds,
and updates it at once for what this process changes.  Its blocking methods
run in the EC2 thread pool.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from occid.ec2.errors import translated
from occid.ec2.scope import Scope
from occid.ec2.tags import OWNER_TAG, VO_TAG
from occid.occi import usermixins
from occid.occi.catalog import Catalog
from occid.occi.errors import Conflict, Forbidden
from occid.occi.usermixins import Definition

__all__ = ["DEFINITIONS_TTL", "PARAMETER_PATH", "Definition", "Definitions", "decode", "encode"]

#: The SSM path of the definitions.
PARAMETER_PATH = "/occid/mixins/"

#: Seconds a read of the definitions is used before SSM is asked again.
DEFINITIONS_TTL = 30.0

#: How many principals' catalogs are kept per account.
VIEWS = 64


def encode(definition: Definition) -> str:
    """The SSM parameter value of C{definition}."""
    mixin = definition.mixin
    return json.dumps({"scheme": mixin.scheme, "term": mixin.term, "title": mixin.title,
                       "location": mixin.location, "owner": definition.owner,
                       "vo": definition.vo, "created": definition.created}, sort_keys=True)


def decode(value: str) -> Definition | None:
    """The definition of an SSM parameter value, or C{None} when it is not one."""
    try:
        data = json.loads(value)
        mixin = usermixins.user_mixin(str(data["term"]), str(data["scheme"]),
                                      str(data.get("title", "")), str(data["location"]))
        if not usermixins.is_user_location(mixin.location):
            return None
        return Definition(mixin, str(data["owner"]), str(data["vo"]), str(data.get("created", "")))
    except (ValueError, KeyError, TypeError):
        return None


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class Definitions:
    """
    The definitions of one account, from SSM, cached; and the principals'
    catalogs built with them.  Methods without a leading C{cached} block.
    """

    def __init__(self, account: str, ssm: Any, ttl: float = DEFINITIONS_TTL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.account = account
        self._ssm = ssm
        self._ttl = ttl
        self._clock = clock
        self._read: tuple[float, tuple[Definition, ...]] | None = None
        self._views: dict[tuple[str, tuple[str, ...]], Catalog] = {}
        self._lock = threading.Lock()

    @property
    def fresh(self) -> bool:
        """Whether the cached definitions are younger than the TTL."""
        read = self._read
        return read is not None and self._clock() - read[0] < self._ttl

    def cached(self) -> tuple[Definition, ...]:
        """The definitions last read (none before the first read)."""
        read = self._read
        return read[1] if read is not None else ()

    def _publish(self, definitions: tuple[Definition, ...]) -> tuple[Definition, ...]:
        ordered = tuple(sorted(definitions, key=lambda d: (d.created, d.name)))
        self._read = (self._clock(), ordered)
        return ordered

    def hold(self) -> None:
        """Use the definitions last read for another TTL (SSM failed just now)."""
        with self._lock:
            self._publish(self.cached())

    @translated
    def load(self) -> tuple[Definition, ...]:
        """Read every definition from SSM (blocking) and publish them."""
        if self._ssm is None:
            return self._publish(())
        found = []
        pages = self._ssm.get_paginator("get_parameters_by_path").paginate(
            Path=PARAMETER_PATH, Recursive=False)
        for page in pages:
            for parameter in page["Parameters"]:
                definition = decode(parameter.get("Value", ""))
                if definition is not None and parameter["Name"] == (
                        PARAMETER_PATH + definition.name):
                    found.append(definition)
        with self._lock:
            return self._publish(tuple(found))

    def current(self) -> tuple[Definition, ...]:
        """The definitions, read again when the cache is stale (blocking then)."""
        return self.cached() if self.fresh else self.load()

    @translated
    def put(self, definition: Definition) -> None:
        """
        Store a new definition (blocking).

        @raise Conflict: its location is taken (by any process).
        """
        if self._ssm is None:
            raise Forbidden("user mixins are not available for this account (no SSM client)")
        try:
            self._ssm.put_parameter(
                Name=PARAMETER_PATH + definition.name, Value=encode(definition),
                Type="String", Overwrite=False,
                Description=f"occid user mixin {definition.mixin.identifier}"[:1024])
        except ClientError as error:
            if _code(error) == "ParameterAlreadyExists":
                raise Conflict(f"{definition.mixin.location} is taken by another user mixin "
                               "in this account") from error
            raise
        with self._lock:
            self._publish(self.cached() + (definition,))

    @translated
    def delete(self, definition: Definition) -> None:
        """Remove a definition from SSM (blocking); gone already is not an error."""
        try:
            self._ssm.delete_parameter(Name=PARAMETER_PATH + definition.name)
        except ClientError as error:
            if _code(error) != "ParameterNotFound":
                raise
        with self._lock:
            self._publish(tuple(d for d in self.cached() if d.name != definition.name))

    def visible(self, scope: Scope) -> list[Definition]:
        """The cached definitions C{scope}'s principal sees."""
        return [d for d in self.cached() if scope.sees({OWNER_TAG: d.owner, VO_TAG: d.vo})]

    def catalog_for(self, base: Catalog, scope: Scope) -> Catalog:
        """C{base} with the user mixins C{scope} sees; built once per set."""
        seen = [d.mixin for d in self.visible(scope)]
        if not seen:
            return base
        key = (base.version, tuple(m.identifier + "\0" + m.title for m in seen))
        view = self._views.get(key)
        if view is None:
            view = usermixins.with_user_mixins(base, seen)
            if len(self._views) >= VIEWS:
                self._views.clear()
            self._views[key] = view
        return view

# -*- test-case-name: tests.test_ec2_errors -*-
"""
Every botocore or AWS failure becomes an L{OCCIError} (docs/status.md, the
status table; docs/wire.md for codes the table does not name).

Decisions where the tables leave a choice:

  - C{UnauthorizedOperation} and C{AccessDenied} (an IAM policy of the
    account refuses the call) are 403: the site's policy forbids what the
    user asked, and the message tells the user to ask the site admin.
  - C{AuthFailure}, C{SignatureDoesNotMatch}, expired or unknown keys, and
    missing credentials are 502: occid authenticated the user itself, so an
    AWS authentication failure means the gateway's own credentials are
    misconfigured; the message is for the admin and never holds the keys.
  - C{InvalidParameterValue} and friends are 400 (the value came from the
    user's request: a zone, a size, a device name); C{*.Malformed} ids are
    404, as an id that cannot exist.  botocore's own
    C{ParamValidationError} (a value breaking EC2's parameter rules, caught
    before the call) is 400 for the same reason.
  - C{*LimitExceeded} quotas and C{Insufficient*Capacity} are 400, as in
    the reference table, and the message says which limit; the throttling
    code C{RequestLimitExceeded} is matched first and answers 503.

Anything else EC2 answers is 502, naming the AWS code.  A call the
account's breaker refused (L{occid.ec2.breaker}) is 503 with the breaker's
C{Retry-After}.  Exceptions that are not botocore's (occid's own bugs) are
left alone so that the web layer logs them and answers 500.

Every answer but a 404 names the EC2 error code and the AWS request id, which
an admin gives AWS support; L{trace} gives both (and the operation and HTTP
status) for the log line (L{occid.ec2.adapter}).  A 404 names the code only:
the user's id is wrong, there is nothing to trace.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    HTTPClientError,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
    ReadTimeoutError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.parsers import ResponseParserError

from occid.ec2.breaker import BreakerOpen
from occid.occi.errors import (
    BadGateway,
    BadRequest,
    Conflict,
    Forbidden,
    GatewayTimeout,
    NotFound,
    OCCIError,
    ServiceUnavailable,
)

#: Seconds a client is told to wait after EC2 throttled occid.
THROTTLED_RETRY_AFTER = 10

#: Seconds a client is told to wait when EC2 cannot be reached.
UNREACHABLE_RETRY_AFTER = 30

_THROTTLING = frozenset(
    {"RequestLimitExceeded", "Throttling", "ThrottlingException",
     "EC2ThrottledException", "RequestThrottled"}
)
_UNAVAILABLE = frozenset({"Unavailable", "ServiceUnavailable"})
_FORBIDDEN = frozenset({"UnauthorizedOperation", "AccessDenied", "AccessDeniedException"})
_CREDENTIALS = frozenset(
    {"AuthFailure", "SignatureDoesNotMatch", "InvalidClientTokenId", "ExpiredToken",
     "RequestExpired", "Blocked", "OptInRequired", "PendingVerification",
     "UnrecognizedClientException"}
)
_STATE = frozenset(
    {"IncorrectInstanceState", "IncorrectState", "IncorrectModificationState",
     "DependencyViolation", "CannotDelete", "IdempotentParameterMismatch",
     "IdempotentInstanceTerminated", "UnsupportedOperation", "UnsupportedHibernationConfiguration"}
)
_USER_INPUT = frozenset(
    {"InvalidParameterValue", "InvalidParameter", "InvalidParameterCombination",
     "MissingParameter", "UnknownParameter", "InvalidUserData.Malformed",
     "InvalidKeyPair.Format", "InvalidBlockDeviceMapping", "InvalidInstanceType",
     "InvalidVpc.Range", "InvalidSubnet.Range", "InvalidDevice.InUse"}
)


@dataclass(frozen=True)
class Trace:
    """
    What identifies a failed EC2 call to AWS support.

    @ivar operation: the EC2 call (C{DescribeInstances}), or C{""}.
    @ivar code: EC2's error code, or the botocore exception's name for a
        call that got no answer.
    @ivar status: the HTTP status of EC2's answer; C{None}: no answer.
    @ivar request_id: the AWS request id of the answer, or C{""}.
    """

    operation: str
    code: str
    status: int | None
    request_id: str


class Refused(BotoCoreError):
    """
    A call the breaker refused before sending it: a botocore error, so that
    the code handling an EC2 call's failure (a cleanup, the reconciler)
    handles it too.

    @ivar refusal: the breaker's L{BreakerOpen}.
    """

    fmt = "{refusal}"

    def __init__(self, refusal: BreakerOpen) -> None:
        super().__init__(refusal=refusal)
        self.refusal = refusal


def trace(error: BaseException | None) -> Trace | None:
    """
    The L{Trace} of a botocore or AWS failure; C{None} for any other error,
    and for a call the breaker refused (nothing was sent: nothing to trace).
    """
    if isinstance(error, ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return Trace(error.operation_name, _code(error), status, _request_id(error))
    if isinstance(error, BotoCoreError) and not isinstance(error, Refused):
        return Trace(getattr(error, "operation_name", ""), type(error).__name__, None, "")
    return None


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "")) or "(no code)"


def _request_id(error: ClientError) -> str:
    """The AWS request id of EC2's answer (its body's, or else its headers'), or C{""}."""
    metadata = error.response.get("ResponseMetadata", {})
    headers = metadata.get("HTTPHeaders", {})
    return str(metadata.get("RequestId") or headers.get("x-amzn-requestid")
               or headers.get("x-amz-request-id") or "")


_P = ParamSpec("_P")
_R = TypeVar("_R")


def translate(error: Exception) -> Exception:
    """
    The L{OCCIError} for a botocore or AWS failure; C{error} itself when it
    is an L{OCCIError} already or not botocore's.
    """
    if isinstance(error, OCCIError):
        return error
    if isinstance(error, Refused):
        error = error.refusal
    if isinstance(error, BreakerOpen):
        return ServiceUnavailable(
            f"EC2 is not answering this account in this region ({error.reason}); "
            f"try again in {error.retry_after} s",
            retry_after=error.retry_after,
        )
    if isinstance(error, ClientError):
        return _client_error(error)
    if isinstance(error, ResponseParserError):
        return BadGateway("EC2 answered something occid could not parse")
    if isinstance(error, (ReadTimeoutError, ConnectTimeoutError)):
        return GatewayTimeout(f"EC2 did not answer in time ({type(error).__name__})")
    if isinstance(error, (BotoConnectionError, HTTPClientError)):
        return ServiceUnavailable(
            f"EC2 cannot be reached ({type(error).__name__}); try again later",
            retry_after=UNREACHABLE_RETRY_AFTER,
        )
    if isinstance(error, (NoCredentialsError, PartialCredentialsError)):
        return BadGateway(
            "occid has no usable AWS credentials for this account; "
            "the site admin must fix its credential chain"
        )
    if isinstance(error, ParamValidationError):
        return BadRequest(f"EC2 would refuse a value of the request ({_report(error)})")
    if isinstance(error, BotoCoreError):
        return BadGateway(f"the EC2 call failed in botocore ({type(error).__name__})")
    return error


def _report(error: ParamValidationError) -> str:
    """botocore's report of the parameters it refused, on one line."""
    lines = [line.strip() for line in str(error).splitlines()[1:] if line.strip()]
    return "; ".join(lines) or type(error).__name__


def _client_error(error: ClientError) -> OCCIError:
    """The mapped error, its message ending with the AWS request id (but for a 404)."""
    mapped = _mapped(error)
    request_id = _request_id(error)
    if request_id and mapped.status != 404:
        mapped.message = f"{mapped.message} (AWS request id {request_id})"
        mapped.args = (mapped.message,)
    return mapped


def _mapped(error: ClientError) -> OCCIError:
    details = error.response.get("Error", {})
    code = _code(error)
    message = str(details.get("Message", "")).strip()
    operation = error.operation_name
    said = f"{code}: {message}" if message else code

    if code in _THROTTLING:
        return ServiceUnavailable(
            f"EC2 is throttling this account ({code}); try again later",
            retry_after=THROTTLED_RETRY_AFTER,
        )
    if code in _UNAVAILABLE:
        return ServiceUnavailable(
            f"EC2 is unavailable ({code}); try again later",
            retry_after=UNREACHABLE_RETRY_AFTER,
        )
    if code.endswith("NotFound"):
        return NotFound(f"not found ({said})")
    if code.endswith(".Malformed") and code not in _USER_INPUT:
        return NotFound(f"no such id ({said})")
    if code in _FORBIDDEN:
        return Forbidden(
            f"the AWS account serving you does not allow {operation} ({code}); "
            "ask the site admin"
        )
    if code in _CREDENTIALS:
        return BadGateway(
            f"EC2 refused occid's credentials for {operation} ({code}); "
            "the site admin must fix the account's credentials or role"
        )
    if code in _USER_INPUT:
        return BadRequest(f"EC2 refused a value of the request ({said})")
    if (
        code in _STATE
        or code.endswith(("InUse", "Conflict", "NotSupported", "ZoneMismatch",
                          "AlreadyExists", "Duplicate"))
    ):
        return Conflict(f"not possible in the current state ({said})")
    if code.endswith("LimitExceeded") or code.startswith("Insufficient"):
        return BadRequest(f"an EC2 limit of the account was reached ({said})")
    return BadGateway(f"EC2 answered an error occid cannot map ({said})")


def translated(function: Callable[_P, _R]) -> Callable[_P, _R]:
    """
    Decorate a blocking function so that botocore and AWS failures leave it
    as L{OCCIError}s, keeping the notes of the original error.
    """

    @functools.wraps(function)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return function(*args, **kwargs)
        except Exception as error:
            mapped = translate(error)
            if mapped is error:
                raise
            for note in getattr(error, "__notes__", ()):
                mapped.add_note(note)
            raise mapped from error

    return wrapper

"""Where moto's Step Functions engine differs from AWS, the tests bend moto, never the product.

Each shim names the AWS behaviour the compiled state machines rely on and why moto needs help
to show it (moto 5.2.5). ``installed(monkeypatch)`` applies them all for one test.
"""

from __future__ import annotations

import copy
import datetime
import functools
import json
import pickle
import sys
import threading
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jsonpath_ng.ext
import pytest
from botocore.exceptions import ClientError
from botocore.response import StreamingBody
from moto.stepfunctions.parser.asl.component.common.path import result_path
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.common.string import string_expression
from moto.stepfunctions.parser.asl.component.program import program
from moto.stepfunctions.parser.asl.component.state import state
from moto.stepfunctions.parser.asl.component.state.exec import execute_state
from moto.stepfunctions.parser.asl.component.state.exec.state_map import state_map
from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_lambda
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service,
    state_task_service_aws_sdk,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function import wait_function
from moto.stepfunctions.parser.asl.eval import states
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.asl.utils import json_path
from moto.stepfunctions.parser.backend import execution_worker
from moto.stepfunctions.parser.quotas import MAX_STATE_SIZE_UTF8_BYTES

from ircli.core.asl import SERVICE_ERROR

Sdk = state_task_service_aws_sdk.StateTaskServiceAwsSdk


@dataclass
class Emulator:
    """What the shims saw: the requested waits, retries, SDK calls; throttles to inject."""

    waits: list[int] = field(default_factory=list)
    retry_sleeps: list[float] = field(default_factory=list)
    calls: list[tuple[str, str]] = field(default_factory=list)
    throttle: dict[str, int] = field(default_factory=dict)  # action -> failures to inject
    fail: dict[str, str] = field(default_factory=dict)  # action -> error code, every time
    # (action, parameters) -> an error code to answer with, or None to let the call through
    refuse: Callable[[str, dict[str, Any]], str | None] | None = None
    during_wait: Callable[[], None] | None = None


def aws_service_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """AWS documents ``elasticloadbalancingv2`` (ELBv2) and ``elasticloadbalancing`` (classic
    ELB) as aws-sdk service names; moto only knows boto3's ``elbv2`` and ``elb``. The product
    writes AWS's names; this maps them for moto."""
    overrides = state_task_service.StateTaskService._SERVICE_NAME_SFN_TO_BOTO_OVERRIDES
    monkeypatch.setitem(overrides, "elasticloadbalancingv2", "elbv2")
    monkeypatch.setitem(overrides, "elasticloadbalancing", "elb")


def aws_error_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """AWS names an aws-sdk task error ``<Service>.<Exception>`` after the SDK's exception class:
    ``Ec2.Ec2Exception`` for every EC2 error (the code only in the cause), a modeled one such as
    ``Iam.NoSuchEntityException``, else ``<Service>.<Service>Exception``. moto builds the name
    from the action (``ec2.ec2Exception``-like), so Retry/Catch on AWS's names never match."""
    def from_error(self: Any, env: Any, ex: Exception) -> Any:
        if not isinstance(ex, ClientError):
            return original(self, env, ex)
        service = SERVICE_ERROR.get(self.resource.api_name, self.resource.api_name.title())
        code = ex.response["Error"].get("Code", "")
        modeled = {"NoSuchEntity": "NoSuchEntityException",
                   "EntityAlreadyExists": "EntityAlreadyExistsException"}
        if self.resource.api_name == "iam" and code in modeled:
            name = f"{service}.{modeled[code]}"
        elif self.resource.api_name == "s3" and code in ("NoSuchKey",):
            name = f"{service}.NoSuchKeyException"
        else:
            name = f"{service}.{service}Exception"
        cause = (f"{ex.response['Error'].get('Message', '')} (Service: {service}, Status Code: "
                 f"{ex.response['ResponseMetadata'].get('HTTPStatusCode')}, Error Code: {code})")
        return self._get_task_failure_event(env=env, error=name, cause=cause)

    original = Sdk._from_error
    monkeypatch.setattr(Sdk, "_from_error", from_error)


def plain_results(monkeypatch: pytest.MonkeyPatch, emulator: Emulator) -> None:
    """AWS returns task results as JSON: times as ISO strings, S3 bodies as text. moto hands
    back boto3's datetimes and streams, which break DescribeExecution. Also where throttling
    is injected (AWS throttles; moto never does) and SDK calls are counted."""
    def plain(value: Any) -> Any:
        if isinstance(value, StreamingBody):
            return value.read().decode()
        if isinstance(value, (datetime.datetime, datetime.date)):
            return value.isoformat()
        if isinstance(value, bytes):
            return value.decode()
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value

    def eval_task(self: Any, env: Any, *args: Any, **kwargs: Any) -> None:
        action = self.resource.api_action
        emulator.calls.append((self.resource.api_name, action))
        if emulator.throttle.get(action, 0) > 0:
            emulator.throttle[action] -= 1
            raise ClientError({"Error": {"Code": "RequestLimitExceeded",
                                         "Message": "Request limit exceeded."},
                               "ResponseMetadata": {"HTTPStatusCode": 503}}, action)
        params = kwargs.get("normalised_parameters", args[1] if len(args) > 1 else {})
        code = emulator.fail.get(action) or (
            emulator.refuse(action, params) if emulator.refuse else None)
        if code:
            raise ClientError({"Error": {"Code": code, "Message": f"{code} (injected)"},
                               "ResponseMetadata": {"HTTPStatusCode": 400}}, action)
        original(self, env, *args, **kwargs)
        env.stack.append(plain(env.stack.pop()))

    original = Sdk._eval_service_task
    monkeypatch.setattr(Sdk, "_eval_service_task", eval_task)


def wildcard_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    """On AWS a path with a wildcard (``[*]``, ``.*``) or a filter (``[?(...)]``) gives the
    list of its matches: ``[]`` for none, a list of one for one. moto fails on no match of a
    filter or of several wildcards, and unwraps a single match into the bare value."""
    extract = json_path.extract_json

    def extract_json(path: str, data: Any) -> Any:
        if "[*]" in path or ".*" in path or "[?(" in path:
            return [match.value for match in jsonpath(path).find(data)]
        return extract(path, data)

    for name, module in list(sys.modules.items()):
        if name.startswith("moto.stepfunctions.parser") and \
                getattr(module, "extract_json", None) is extract:
            monkeypatch.setattr(module, "extract_json", extract_json)


def no_real_waiting(monkeypatch: pytest.MonkeyPatch, emulator: Emulator) -> None:
    """Wait states and Retry backoff: AWS waits; a test must not. The requested seconds are
    recorded, and ``during_wait`` lets a test look at AWS while the machine waits."""
    class Clock:
        @staticmethod
        def sleep(seconds: float) -> None:
            emulator.retry_sleeps.append(seconds)

    monkeypatch.setattr(retrier_decl, "time", Clock)

    def wait(self: Any, env: Any, wait_seconds: int) -> None:
        emulator.waits.append(wait_seconds)
        if emulator.during_wait is not None:
            emulator.during_wait()

    monkeypatch.setattr(wait_function.WaitFunction, "_wait_interval", wait)


def synchronous_executions(monkeypatch: pytest.MonkeyPatch) -> None:
    """StartExecution returns once the execution has ended (AWS runs it in the background;
    moto's thread would have the test poll with real sleeps)."""
    monkeypatch.setattr(execution_worker.ExecutionWorker, "start",
                        execution_worker.SyncExecutionWorker.start)


def iso_start_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """AWS's context object gives ``$$.Execution.StartTime`` as an ISO 8601 string; moto puts
    a datetime there, which no intrinsic can serialise."""
    def environment(self: Any) -> Any:
        env = original(self)
        execution = env.states.context_object.context_object_data["Execution"]
        start = execution["StartTime"]
        if isinstance(start, datetime.datetime):
            execution["StartTime"] = start.astimezone(datetime.timezone.utc).isoformat()
        return env

    original = execution_worker.ExecutionWorker._get_evaluation_environment
    monkeypatch.setattr(execution_worker.ExecutionWorker, "_get_evaluation_environment",
                        environment)


# A parsed path is immutable: finding and updating leave it as it was.
jsonpath = functools.lru_cache(maxsize=4096)(jsonpath_ng.ext.parse)
result_jsonpath = functools.lru_cache(maxsize=4096)(jsonpath_ng.parse)
_PARSED: dict[str, Any] = {}  # definition text -> moto's parsed program, for the process


def parse_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Not a difference from AWS, a cost of the emulator: moto parses a definition with a
    pure-Python ANTLR parser at CreateStateMachine and again at every StartExecution, about
    3 CPU-s for ec2-compromise's 430 states, and every JSONPath (each state's ResultPath at
    every pass) with a fresh parser. The parsed program holds no run state (each execution
    has its own environment), so one parse per definition text serves every machine and
    execution of the test process; so does one parse per path."""
    parse = AmazonStateLanguageParser.parse

    def parse_cached(definition: str) -> Any:
        if definition not in _PARSED:
            _PARSED[definition] = parse(definition)
        return _PARSED[definition]

    monkeypatch.setattr(AmazonStateLanguageParser, "parse", staticmethod(parse_cached))
    monkeypatch.setattr(json_path, "parse", jsonpath)
    monkeypatch.setattr(result_path, "parse", result_jsonpath)


def _pickle_copy(value: Any, memo: Any = None) -> Any:
    """``copy.deepcopy`` of plain data, done in C: the same values, several times faster."""
    try:
        return pickle.loads(pickle.dumps(value, pickle.HIGHEST_PROTOCOL))
    except Exception:  # whatever pickle refuses is copied the generic way
        return copy.deepcopy(value)


def plain_copies(monkeypatch: pytest.MonkeyPatch) -> None:
    """Not a difference from AWS, a cost of the emulator: moto deep-copies the whole state
    document at each state's input, path and output, and each task's and map's frame
    (a third of an ec2-compromise execution's CPU with the generic ``copy.deepcopy``). The
    documents are plain data, so a pickle round trip gives the same values (what cannot be
    pickled still goes through ``copy.deepcopy``)."""
    fast = types.SimpleNamespace(deepcopy=_pickle_copy, copy=copy.copy)
    for module in (states, string_expression, result_path, execute_state, state_map):
        monkeypatch.setattr(module, "copy", fast)


@dataclass
class _Document:
    """One state input as moto stores it between states, with what was worked out from it."""

    value: Any
    pickled: bytes
    compact: str | None = None


_READ = threading.local()  # the document a read-only caller was just handed, per thread
_READ_ONLY_CALLERS = {  # moto's uses of a state's input that only serialise it
    state.CommonStateField._get_state_entered_event_details.__code__,
    state.CommonStateField._get_state_exited_event_details.__code__,
    state.CommonStateField._eval_body.__code__,  # its one use: the size quota
    program.Program._eval_body.__code__,  # its one use: the execution's output
}


def state_documents_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Not a difference from AWS, a cost of the emulator: moto copies a state's whole input
    for every use, including the three per state that only serialise it (the entered and
    exited history events and the size quota), and serialises it once for each. The stored
    input is a private copy nobody changes (moto copies on every way in and out), so those
    readers get it uncopied and its JSON is worked out once; every other reader still gets
    a fresh copy, made from the pickle kept when it was stored. The quota's answer stays
    exact: its spaced JSON is at most twice as long as the compact one, and is worked out
    when that bound does not settle it."""
    get_input, reset = states.States.get_input, states.States.reset

    def reset_once(self: Any, input_value: Any) -> None:
        try:
            pickled = pickle.dumps(input_value, pickle.HIGHEST_PROTOCOL)
        except Exception:  # what pickle refuses is stored the way moto stores it
            self.ircli_document = None
            reset(self, input_value)
            return
        reset(self, None)
        document = _Document(pickle.loads(pickled), pickled)
        self._states_data["input"] = document.value
        self.ircli_document = document

    def get_input_once(self: Any, query: str | None = None) -> Any:
        document = getattr(self, "ircli_document", None)
        if query is not None or document is None or \
                document.value is not self._states_data["input"]:
            return get_input(self, query)
        if sys._getframe(1).f_code in _READ_ONLY_CALLERS:
            _READ.document = document
            return document.value
        return pickle.loads(document.pickled)

    def read(value: Any) -> _Document | None:
        document: _Document | None = getattr(_READ, "document", None)
        return document if document is not None and document.value is value else None

    def to_json_once(value: Any, separators: tuple[str, str] | None = None) -> str:
        document = read(value)
        if document is None or separators != (",", ":"):
            return to_json_str(value, separators)
        if document.compact is None:
            document.compact = to_json_str(value, separators)
        return document.compact

    def within_quota(value: Any) -> bool:
        document = read(value)
        if document is None:
            return is_within_size_quota(value)
        compact = len(to_json_once(value, (",", ":")).encode())
        return 2 * compact < MAX_STATE_SIZE_UTF8_BYTES or is_within_size_quota(value)

    to_json_str, is_within_size_quota = state.to_json_str, state.is_within_size_quota
    monkeypatch.setattr(states.States, "reset", reset_once)
    monkeypatch.setattr(states.States, "get_input", get_input_once)
    monkeypatch.setattr(state, "to_json_str", to_json_once)
    monkeypatch.setattr(program, "to_json_str", to_json_once)
    for module in (state, state_task_service, state_task_lambda):
        monkeypatch.setattr(module, "is_within_size_quota", within_quota)


def one_client_per_service(monkeypatch: pytest.MonkeyPatch) -> None:
    """Not a difference from AWS, a cost of the emulator: moto builds a new boto3 client for
    every SDK task it runs (a client costs more CPU than the emulated call). One client per
    region, service and credentials serves the test's executions."""
    made: dict[tuple[str, str, str], Any] = {}
    build = state_task_service_aws_sdk.boto_client_for

    def client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        key = (region, service, repr(state_credentials))
        if key not in made:
            made[key] = build(region, service, state_credentials)
        return made[key]

    monkeypatch.setattr(state_task_service_aws_sdk, "boto_client_for", client_for)


def installed(monkeypatch: pytest.MonkeyPatch,
              without: tuple[Callable[[pytest.MonkeyPatch], None], ...] = ()) -> Emulator:
    """Every shim, less the cost cuts named in ``without`` (a test of a cut compares)."""
    emulator = Emulator()
    aws_service_names(monkeypatch)
    aws_error_names(monkeypatch)
    plain_results(monkeypatch, emulator)
    wildcard_lists(monkeypatch)
    for cut in (parse_once, plain_copies, state_documents_once, one_client_per_service):
        if cut not in without:
            cut(monkeypatch)
    no_real_waiting(monkeypatch, emulator)
    synchronous_executions(monkeypatch)
    iso_start_time(monkeypatch)
    return emulator


def history_errors(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every failure event of an execution's history (for assertion messages)."""
    return [json.loads(json.dumps(e, default=str)) for e in events
            if "Failed" in e["type"] or "Retry" in e["type"]]

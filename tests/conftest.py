"""Every test runs against the local emulator (moto); no request may reach real AWS."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import socket
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.server import ThreadedMotoServer

from ircli.aws import contain_deny
from ircli.core.heap import freeze_what_is_loaded
from ircli.lab.server import emulator_costs_cut
from tests.fakes import FakeClock

REGION = "us-east-1"

KMS_KEY_POOL = 16


def pool_kms_private_keys(size: int = KMS_KEY_POOL) -> None:
    """Shim: moto generates a private key for every KMS key it creates, a 2048-bit RSA one even
    for a symmetric key (0.2 s of CPU each; the lab scenarios' volume key is one). Here each
    key spec draws from a pool of ``size`` keys made once per test process, handed out in
    turn: a test creating fewer than ``size`` keys of one spec never sees two share a key
    (moto's backends are reset between tests; tests/hygiene/test_emulator_shims.py checks)."""
    import moto.kms.models as kms_models

    generate = kms_models.generate_private_key
    if getattr(generate, "ircli_pooled", False):
        return
    pools: dict[str, list[Any]] = {}
    handed: dict[str, int] = {}

    def pooled(key_spec: str) -> Any:
        pool = pools.setdefault(key_spec, [])
        turn = handed.get(key_spec, 0)
        handed[key_spec] = turn + 1
        if len(pool) < size:
            pool.append(generate(key_spec))
        return pool[turn % size]

    pooled.ircli_pooled = True  # type: ignore[attr-defined]
    kms_models.generate_private_key = pooled


def route_each_service_once() -> None:
    """Shim: in-process moto finds the handler of every request by building its service's
    whole URL table again, from a backend it first makes for the default account (for S3 it
    even reloads the module holding the table): about a tenth of the CPU of an emulated S3
    call. The table depends on the backend's class alone, which never changes while a test
    process runs, so each service's routes are compiled once; a request for a URL no route
    takes falls through to moto's own lookup, unchanged.
    tests/hygiene/test_emulator_shims.py checks it."""
    from moto import backend_index, backends
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.core.base_backend import BackendDict
    from moto.core.botocore_stubber import BotocoreStubber
    from moto.core.config import passthrough_service, passthrough_url, service_whitelisted
    from moto.core.exceptions import HTTPException
    from moto.core.request import normalize_request
    from moto.core.utils import get_equivalent_url_in_aws_domain
    from moto.moto_api import recorder

    original = BotocoreStubber.process_request
    if getattr(original, "ircli_routes_once", False):
        return
    routes: dict[str, list[tuple[Any, Any]]] = {}

    def routes_of(service: str) -> list[tuple[Any, Any]]:
        if service not in routes:
            backend_dict = backends.get_backend(service)  # type: ignore[call-overload]
            if isinstance(backend_dict, BackendDict):
                regions = backend_dict[DEFAULT_ACCOUNT_ID]
                backend = regions["us-east-1" if "us-east-1" in regions else "aws"]
            else:
                backend = backend_dict["global"]
            routes[service] = [(re.compile(url), handler) for url, handler in backend.urls.items()]
        return routes[service]

    def process_request(self: Any, request: Any) -> Any:
        parsed_url, _ = get_equivalent_url_in_aws_domain(request.url)
        clean_url = f"{parsed_url.scheme}://{parsed_url.netloc}{parsed_url.path}"
        if passthrough_url(clean_url):
            return None
        for service, pattern in backend_index.backend_url_patterns:
            if not pattern.match(clean_url):
                continue
            if passthrough_service(service) or not service_whitelisted(service):
                break  # moto's own lookup passes it through or refuses it
            for url, handler in routes_of(service):
                if url.match(clean_url):
                    normalized = normalize_request(request)
                    try:
                        recorder._record_request(normalized)
                        return handler(normalized, normalized.raw_url, normalized.headers)
                    except HTTPException as e:
                        return e.code, e.get_headers(), e.get_body()
            break
        return original(self, request)

    process_request.ircli_routes_once = True  # type: ignore[attr-defined]
    BotocoreStubber.process_request = process_request  # type: ignore[method-assign]


def botocore_work_once() -> None:
    """Shim: three things botocore works out again for every session and client, though
    they depend on nothing a session or client holds. The suite opens a session per in-process
    command and a client per service and test (thousands in a run), so here:

    - an event name's alias (``EventAliaser``) is remembered for the process, not per
      emitter: each new emitter parsed the names of every event it met, ~4 % of the run;
    - whether a handler takes ``**kwargs`` is read once per function, not by
      ``inspect.getfullargspec`` at each of the ~130 registrations of every session;
    - the clients share one TLS context (each made its own; nothing here speaks TLS).

    tests/hygiene/test_emulator_shims.py checks them."""
    import weakref

    from botocore import hooks, httpsession

    if getattr(hooks.accepts_kwargs, "ircli_once", False):
        return
    aliases: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}
    init = hooks.EventAliaser.__init__

    def aliaser(self: Any, event_emitter: Any, event_aliases: Any = None) -> None:
        init(self, event_emitter, event_aliases)
        known = tuple(sorted(self._event_aliases.items()))
        self._alias_name_cache = aliases.setdefault(known, {})

    accepts = hooks.accepts_kwargs
    read: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()

    def accepts_kwargs(func: Any) -> bool:
        function = getattr(func, "__func__", func)  # a bound method: its function's answer
        try:
            return read[function]
        except (KeyError, TypeError):
            answer = bool(accepts(func))
        with contextlib.suppress(TypeError):
            read[function] = answer
        return answer

    contexts: list[Any] = []

    def ssl_context(self: Any) -> Any:
        if not contexts:
            contexts.append(httpsession.create_urllib3_context())
        return contexts[0]

    accepts_kwargs.ircli_once = True  # type: ignore[attr-defined]
    hooks.EventAliaser.__init__ = aliaser  # type: ignore[method-assign]
    hooks.accepts_kwargs = accepts_kwargs
    httpsession.URLLib3Session._get_ssl_context = ssl_context  # type: ignore[method-assign]


# Shims for the emulator's cost, the same the lab's emulator takes (ircli/lab/server.py): every
# botocore session, moto's too, reads models through ircli's one loader; moto leaves out its
# 1,227 ECS-optimized AMIs (~1.3 s of CPU whenever a test first touches EC2 in a region;
# nothing here launches one), lists a response class's methods once, rewrites request ids
# only in XML, and finds backends by identity. Then the in-process ones above.
# tests/hygiene/test_emulator_shims.py checks them.
emulator_costs_cut()
pool_kms_private_keys()
route_each_service_once()
botocore_work_once()

# The test process holds a large, long-lived heap (every service model botocore parsed, moto's
# backends and its Step Functions engine): the cyclic collector's default thresholds walk it
# again and again, a fifth of the CPU of the in-process tests. What is loaded by now is frozen
# out of the collector and collections come less often; nothing in the tests waits on one.
freeze_what_is_loaded()


SESSION_MARK = "PYTEST_IRCLI_SESSION"


@pytest.fixture(scope="session", autouse=True)
def no_process_survives() -> Iterator[None]:
    """Fail the run if a process the suite started (a lab emulator, an agent, a collector, a
    test's helper) still runs at the end, and stop it.

    Every process started from here inherits a mark in its environment, even one that was
    handed to init when its parent exited (as `ircli lab up` does with its emulator), so the
    end of the session finds them in /proc whoever their parent is now.
    """
    mark = f"{os.getpid()}-{uuid.uuid4().hex}"
    os.environ[SESSION_MARK] = mark
    yield
    survivors = marked_processes(mark)
    deadline = time.monotonic() + 5  # one that is exiting right now gets a moment
    while survivors and time.monotonic() < deadline:
        time.sleep(0.1)
        survivors = marked_processes(mark)
    for pid in survivors:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    if survivors:
        pytest.fail("processes started by the test suite were still running at its end "
                    "(now killed): " + "; ".join(f"{pid}: {cmd}" for pid, cmd in
                                                 survivors.items()), pytrace=False)


def marked_processes(mark: str) -> dict[int, str]:
    """pid -> command line of every other live process whose environment carries ``mark``."""
    needle = f"{SESSION_MARK}={mark}".encode()
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else ():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(
                errors="replace").strip()
        except OSError:
            continue
        if cmdline:  # a zombie has neither environment nor command line left
            found[int(entry.name)] = cmdline
    return found


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: two workers per CPU, at least two and at most sixteen. Half of a test's
    time goes waiting on a subprocess or an emulator across HTTP (summed wall 1,315 s against
    614 CPU-s in one run here), so one worker per CPU leaves a CPU idle that long; on this
    2-core machine the suite took 444 s with two workers, 367 s with four."""
    return max(2, min(16, 2 * (os.cpu_count() or 1)))


@pytest.fixture(scope="session", autouse=True)
def client_classes_once() -> Iterator[None]:
    """Build each botocore client class once per test process, not once per client.

    botocore makes a new class for every client: a method and a docstring object per API
    operation (about 750 for EC2), then the ``creating-client-class`` handlers add theirs
    (boto3's S3 transfer methods...). ircli opens a session and its clients per command, so in
    the in-process tests that was about a fifth of all CPU time. The class depends only on
    the service model and those handlers, the same for every boto3 session here; a session
    with other handlers for the event gets a class of its own.
    """
    from botocore.client import ClientCreator

    made: dict[tuple[Any, ...], type] = {}
    create = ClientCreator._create_client_class

    def shared_class(self: ClientCreator, service_name: str, service_model: Any) -> type:
        event = f"creating-client-class.{service_model.service_id.hyphenize()}"
        try:
            handlers = len(self._event_emitter._emitter._handlers.prefix_search(event))
        except AttributeError:  # an emitter of another kind: no sharing
            return create(self, service_name, service_model)
        key = (service_name, service_model.api_version, tuple(service_model.operation_names),
               type(self._event_emitter), handlers)
        if key not in made:
            made[key] = create(self, service_name, service_model)
        return made[key]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ClientCreator, "_create_client_class", shared_class)
        yield


@pytest.fixture(scope="session", autouse=True)
def service_models_once() -> Iterator[None]:
    """Give every client of one service model the same ``ServiceModel``, not one each.

    botocore wraps the loader's (shared, cached) JSON model in a new ``ServiceModel`` for
    every client, and its caches start empty: each EC2 client then builds an operation
    model for each of its ~750 operations to learn that none does endpoint discovery, and
    each call's operation model again. The wrapper keeps no state of a client (botocore's S3
    handlers edit the loader's JSON, which every client shared already); each loader has
    models of its own (moto's request parser has one adding its extras), kept as long as it
    lives.
    """
    from weakref import WeakKeyDictionary

    from botocore.client import ClientCreator
    from botocore.model import ServiceModel

    made: WeakKeyDictionary[Any, dict[tuple[str, str | None], ServiceModel]] = \
        WeakKeyDictionary()

    def shared_model(self: ClientCreator, service_name: str,
                     api_version: str | None = None) -> ServiceModel:
        loader = self._loader  # type: ignore[attr-defined]
        models = made.setdefault(loader, {})
        if (service_name, api_version) not in models:
            document = loader.load_service_model(service_name, "service-2",
                                                 api_version=api_version)
            models[service_name, api_version] = ServiceModel(document,
                                                             service_name=service_name)
        return models[service_name, api_version]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ClientCreator, "_load_service_model", shared_model)
        yield


@pytest.fixture(scope="session", autouse=True)
def fsync_without_waiting() -> Iterator[None]:
    """In-process tests do not wait for the disk: ``os.fsync`` checks its descriptor and
    returns without flushing.

    ircli syncs every audit line and case save (about 70 per containment test, 4 ms each on
    this shared disk, far more when it is busy). What the tests can check, the order of
    writes and atomic renames, is unchanged; surviving a power cut cannot be tested here.
    The end-to-end tests' subprocesses still sync for real.
    """
    def checked(fd: int) -> None:
        os.fstat(fd)  # a closed or invalid descriptor still raises, as fsync would

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "fsync", checked)
        yield


@pytest.fixture(scope="session", autouse=True)
def iam_settles_at_once() -> Iterator[None]:
    """Not a difference from AWS, a cost of waiting for nothing: after each write of a role's
    deny policy ircli waits ``SETTLE_SECONDS`` (for IAM to show the version, and for a
    concurrent writer's to land) before reading it back: a second on each contain and
    release, half a minute over the suite. The emulator's IAM is read-after-write
    consistent and the tests that race two writers time them with their own sleep, so the
    wait is zero here; the read-back and retry loop run as on AWS.
    tests/hostile/test_shared_role.py checks the wait with its real length."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(contain_deny, "SETTLE_SECONDS", 0.0)
        yield


REAL_SETTLE_SECONDS = contain_deny.SETTLE_SECONDS  # read before any fixture sets it to zero


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Dummy credentials, a fixed region, a private IRCLI_HOME; no profile or config leaks in."""
    for key in list(os.environ):
        if key.startswith(("AWS_", "IRCLI_")):
            monkeypatch.delenv(key, raising=False)
    home = tmp_path / "ircli-home"
    monkeypatch.setenv("IRCLI_HOME", str(home))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return home


@pytest.fixture(autouse=True)
def no_real_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test that opens a connection to a real AWS host."""
    real = socket.create_connection

    def guarded(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        host = str(address[0])
        if host.endswith(("amazonaws.com", "amazonaws.com.cn", "aws.amazon.com")):
            raise AssertionError(f"test tried to reach real AWS: {host}")
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", guarded)


@pytest.fixture
def moto_aws() -> Iterator[None]:
    """In-process emulator for unit tests."""
    with mock_aws():
        yield


def boto_session(**kwargs: Any) -> boto3.Session:
    """A boto3 session for the tests' own clients, on ircli's one shared model loader.

    moto gives every test a fresh default boto3 session, whose loader would read and parse
    each service's JSON model again (EC2's alone is several MB); ircli's sessions share one
    loader (``ircli.core.session``), and so do the tests' clients, made from here.
    """
    from ircli.core.session import _boto3_session

    return _boto3_session(**kwargs)


def _client_per_service(session: boto3.Session, **kwargs: Any) -> Any:
    """``clients('ec2')``, made once per service and test (a boto3 client costs about as much
    CPU as the emulated call it makes)."""
    made: dict[str, Any] = {}

    def client(service: str) -> Any:
        if service not in made:
            made[service] = session.client(service, region_name=REGION, **kwargs)
        return made[service]

    return client


@pytest.fixture
def clients(moto_aws: None) -> Any:
    """``clients('ec2')``: a boto3 client for the in-process emulator."""
    return _client_per_service(boto_session(region_name=REGION))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def cli_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The clock every CLI command in this test uses (commands build a SystemClock): settle
    and poll waits advance it instead of sleeping for real."""
    fake = FakeClock()
    monkeypatch.setattr("ircli.core.clock.SystemClock", lambda: fake)
    return fake


# -- a moto server in this process, reached over HTTP (e2e, collect) -----------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()  # port 0: the kernel picks a free port, no race with other workers
    port = server.get_host_and_port()[1]
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def endpoint(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A clean emulator for this test, reached through AWS_ENDPOINT_URL like a user would."""
    urllib.request.urlopen(urllib.request.Request(f"{moto_server}/moto-api/reset",
                                                  method="POST")).read()
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    return moto_server


@pytest.fixture
def server_clients(endpoint: str) -> Any:
    return _client_per_service(boto_session(region_name=REGION), endpoint_url=endpoint)

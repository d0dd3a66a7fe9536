"""The lab's emulator: moto's server on loopback plus the SSM-agent substitute beside it.

moto records SendCommand but runs nothing; the substitute (``ircli.liveresponse.agent``) plays
the agent, and it can only report results into moto when both live in one process. So the
lab runs them together: in a background process for ``ircli lab up``, or inside the
``ircli lab demo`` process itself.
"""

from __future__ import annotations

import argparse
import errno
import http.client
import logging
import os
import signal
import socket
import threading
import urllib.request
from types import FrameType
from typing import Any

from ircli.core.errors import UserError
from ircli.core.heap import freeze_what_is_loaded

REGION = "us-east-1"
LAB_KEYS = ("lab", "lab")  # the emulator accepts any key; these never leave the machine


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as err:
            return err.errno == errno.EADDRINUSE
    return False


# moto's dashboard page: about 10 KB whatever the emulator holds. Not /moto-api/data.json, the
# whole state dump (6 MB fresh, more after every exercise), which takes seconds under load.
PROBE_PATH = "/moto-api/"
# Loopback requests never go through an HTTP proxy the user's environment may name.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))
# What the lab's emulator needs beyond moto's defaults: AWS managed policies exist (the analyst
# workstation's role attaches AmazonSSMManagedInstanceCore, as on AWS).
SERVER_ENV = {"MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}


def leave_out_ecs_images() -> None:
    """Keep moto from creating its 1,227 ECS-optimized AMIs in every region it emulates.

    moto's EC2 builds each of them with a volume and a snapshot when a region is first
    touched: about 1.3 s of CPU per region and account, most of an emulated account's cost.
    Nothing in ircli or its lab launches an ECS-optimized image; moto's default images and its
    latest Amazon Linux and Windows ones (what ``lab_image`` and the analyst's SSM parameters
    name) stay. Idempotent; in-process only (call it where the emulator runs).
    """
    from moto.ec2.models import amis

    load: Any = getattr(amis, "load_resource")  # noqa: B009 - moto does not export it
    if getattr(load, "ircli_leaves_out_ecs", False):
        return

    def without_ecs(path: str, *args: Any, **kwargs: Any) -> Any:
        if "/ecs/optimized_amis/" in path:
            return []
        return load(path, *args, **kwargs)

    without_ecs.ircli_leaves_out_ecs = True  # type: ignore[attr-defined]
    setattr(amis, "load_resource", without_ecs)  # noqa: B010


def one_model_loader() -> None:
    """Let every botocore session of this process read models through ircli's one loader.

    moto makes sessions of its own (three while EC2's module loads, one to list each
    service's regions, one per in-process test's default session), and each new session
    reads and parses the JSON models it needs again: EC2's is several MB, about a second of
    CPU for the three at import alone. A session given its own data path
    (``AWS_DATA_PATH``) still gets a loader of its own, and so does moto's request parser
    (its loader adds moto's model extras). Call it before moto's services are imported;
    idempotent.
    """
    import botocore.session

    from ircli.core.session import shared_loader

    create: Any = getattr(botocore.session, "create_loader")  # noqa: B009 - not exported
    if getattr(create, "ircli_shared", False):
        return

    def create_loader(search_path_string: str | None = None) -> Any:
        return shared_loader() if search_path_string is None else create(search_path_string)

    create_loader.ircli_shared = True  # type: ignore[attr-defined]
    setattr(botocore.session, "create_loader", create_loader)  # noqa: B010


def dispatch_without_reflection() -> None:
    """Let moto look up each response class's method names once, not at every request.

    moto finds the handler of every API call by listing the response class's functions with
    ``inspect.getmembers`` (hundreds of members for EC2), about a twentieth of the CPU an
    emulated call costs. The list is kept while the class and its bases hold the same
    attribute names, and made again when one gains or loses one: the SSM actions the lab adds
    (``ircli.liveresponse.emulator``) arrive after the first SSM call has been dispatched, and a
    list kept from before would answer them with a 500. (A function replaced under a name
    it already had keeps the list, which still names it.) Idempotent; in-process only.
    """
    from moto.core import responses

    names: Any = getattr(responses, "method_names_from_class")  # noqa: B009 - not exported
    if getattr(names, "ircli_once", False):
        return
    known: dict[type, tuple[tuple[tuple[str, ...], ...], list[str]]] = {}

    def method_names(clazz: Any) -> list[str]:
        shape = tuple(tuple(vars(c)) for c in clazz.__mro__)
        kept = known.get(clazz)
        if kept is None or kept[0] != shape:
            kept = known[clazz] = (shape, names(clazz))
        return kept[1]

    method_names.ircli_once = True  # type: ignore[attr-defined]
    setattr(responses, "method_names_from_class", method_names)  # noqa: B010


def request_ids_where_they_go() -> None:
    """Let moto look for a ``<RequestId>`` element only in a body that has one.

    After every call moto runs a regular expression over the whole response body to put a
    fresh request id into its XML, JSON bodies included (a Step Functions history or a
    large S3 object is scanned end to end for nothing). A body without the element is
    returned as it is, which is what the expression did to it (a bytes body it never
    changed). Idempotent.
    """
    from moto.core import responses
    from moto.utilities.aws_headers import gen_amzn_requestid_long

    enrich: Any = responses.BaseResponse._enrich_response
    if getattr(enrich, "ircli_only_xml", False):
        return

    def enrich_response(headers: dict[str, str], body: Any) -> tuple[dict[str, str], Any]:
        if isinstance(body, str) and "<RequestId>" in body:
            return enrich(headers, body)  # type: ignore[no-any-return]
        if "status" in headers:  # the rest of what moto does to every response
            headers["status"] = str(headers["status"])
        gen_amzn_requestid_long(headers)
        return headers, body

    enrich_response.ircli_only_xml = True  # type: ignore[attr-defined]
    setattr(responses.BaseResponse, "_enrich_response", staticmethod(enrich_response))  # noqa: B010


def backends_found_directly() -> None:
    """Let moto check its list of services in use by identity, not by ``__eq__``.

    Each time a request reaches a service's backends for an account, moto checks that the
    service is on its list of services in use (what its reset empties) by comparing it with
    every entry of that list, hundreds of Python ``__eq__`` calls: a twentieth of the CPU of
    an emulated S3 call. Each service has one backend dictionary, and moto's ``__eq__``
    compares ids unique to each, so identity gives the same answer; the check is still made,
    under moto's lock, at every access. Idempotent.
    """
    from moto.core.base_backend import BackendDict, backend_lock

    create: Any = getattr(BackendDict, "_create_account_specific_backend")  # noqa: B009
    if getattr(create, "ircli_direct", False):
        return

    def create_backend(self: Any, account_id: str) -> None:
        with backend_lock:
            listed = {id(backend) for backend in BackendDict._instances}  # type: ignore[misc]
            if account_id in self.keys() and id(self) in listed:
                return
            create(self, account_id)

    create_backend.ircli_direct = True  # type: ignore[attr-defined]
    setattr(BackendDict, "_create_account_specific_backend", create_backend)  # noqa: B010


def emulator_costs_cut() -> None:
    """Every cost cut above, for an emulator in this process (the lab's, the tests')."""
    one_model_loader()
    leave_out_ecs_images()
    dispatch_without_reflection()
    request_ids_where_they_go()
    backends_found_directly()


def responds(endpoint: str, timeout: float = 3.0) -> bool:
    """True when a moto server answers one small request at ``endpoint`` within ``timeout``."""
    try:
        with _DIRECT.open(f"{endpoint}{PROBE_PATH}", timeout=timeout) as resp:
            return bool(resp.status == 200)
    except (OSError, http.client.HTTPException, ValueError):
        return False


class LabServer:
    """moto on 127.0.0.1:port, with the agent substitute polling it in a thread."""

    def __init__(self, port: int = 0, region: str = REGION) -> None:
        self.port = port
        self.region = region
        self._server: Any = None
        self._stop = threading.Event()
        self._agent_thread: threading.Thread | None = None
        self._undo_hold: Any = None
        self._registered: set[str] = set()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LabServer:
        if self.port and port_in_use(self.port):
            raise UserError(f"Port {self.port} on 127.0.0.1 is already in use.",
                            "Stop what uses it, or pass another --port.")
        from moto.server import ThreadedMotoServer

        from ircli.liveresponse.agent import hold_new_commands_pending
        from ircli.liveresponse.emulator import install_ssm_shims

        emulator_costs_cut()
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        self.port = int(self._server.get_host_and_port()[1])
        self._undo_hold = hold_new_commands_pending()
        install_ssm_shims()
        self._agent_thread = threading.Thread(target=self._run_agent, name="ssm-agent",
                                              daemon=True)
        self._agent_thread.start()
        return self

    def _run_agent(self) -> None:
        from ircli.core.session import AwsSession, AwsSettings
        from ircli.lab.scenarios import host_resolver
        from ircli.liveresponse.agent import AgentSubstitute

        aws = AwsSession(AwsSettings(region=self.region, endpoint_url=self.endpoint,
                                     static_credentials=LAB_KEYS))
        ec2 = aws.client("ec2")
        # Each instance's commands run on its own sandboxed scenario host, never on this machine.
        agent = AgentSubstitute(aws.client("ssm"), region=self.region,
                                host_for=host_resolver(ec2))
        while not self._stop.is_set():
            try:
                self._register_running(ec2)
                agent.run_once()
            except Exception:  # a bad command must not kill the lab's agent
                import traceback

                traceback.print_exc()
            self._stop.wait(0.5)

    def _register_running(self, ec2: Any) -> None:
        """Every running lab instance has an agent, as on an AMI that ships SSM's agent."""
        from ircli.liveresponse.agent import DEFAULT_ACCOUNT
        from ircli.liveresponse.emulator import register_instance, unregister_instance

        pages = ec2.get_paginator("describe_instances").paginate()
        for instance in (i for page in pages for r in page["Reservations"]
                         for i in r["Instances"]):
            iid = instance["InstanceId"]
            if instance["State"]["Name"] != "running":
                unregister_instance(DEFAULT_ACCOUNT, self.region, iid)
                self._registered.discard(iid)
            elif iid not in self._registered:
                platform = "Windows" if instance.get("Platform") == "windows" else "Linux"
                register_instance(DEFAULT_ACCOUNT, self.region, iid, platform=platform)
                self._registered.add(iid)

    def stop(self) -> None:
        self._stop.set()
        if self._agent_thread is not None:
            self._agent_thread.join(timeout=10)
        if self._undo_hold is not None:
            self._undo_hold()
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> LabServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def main() -> None:
    """``python -m ircli.lab.server --port N``: serve until SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser(description="ircli lab emulator")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    for key, value in SERVER_ENV.items():
        os.environ.setdefault(key, value)
    done = threading.Event()

    def finish(_sig: int, _frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, finish)
    signal.signal(signal.SIGINT, finish)
    server = LabServer(args.port).start()
    # The emulator's heap is mostly what never goes away (service models, moto's backends):
    # keep the cyclic collector off it and collecting less often (a fifth of its CPU).
    freeze_what_is_loaded()
    print(f"ircli lab emulator on {server.endpoint}", flush=True)
    done.wait()
    server.stop()


if __name__ == "__main__":
    main()

"""SSM calls moto 5.2.x lacks, added for the lab and the tests (never used against AWS).

ircli calls ``DescribeInstanceInformation`` (is the instance managed, is its agent online?)
and ``CancelCommand`` (give up on a command cleanly) exactly as on AWS. moto 5.2.5 implements
neither: over HTTP both answer a bare 500, which botocore retries and which is indistinguishable
from a real server fault. Rather than teach product code to recognise the emulator, the lab
fills the gap where the real answer comes from: on AWS an instance shows up in
``DescribeInstanceInformation`` because its SSM agent registered; here
:meth:`ircli.liveresponse.agent.AgentSubstitute.register` registers the instances it plays the
agent for. Like ``report_to_moto`` this touches moto internals and works only when moto runs
in this process (``mock_aws`` or an in-process ``ThreadedMotoServer``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from ircli.liveresponse.errors import EmulatorInternalsError

AGENT_VERSION = "3.3.0.0-ircli-substitute"
_TERMINAL = ("Success", "Failed", "TimedOut", "Cancelled")
# (account, region) -> instance id -> the InstanceInformation record DescribeInstanceInformation
# returns. Registrations live as long as the process, like moto's own state.
_REGISTERED: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
_LOCK = threading.Lock()


def register_instance(account_id: str, region: str, instance_id: str, *,
                      platform: str = "Linux", ping_status: str = "Online") -> None:
    """Make ``instance_id`` appear managed (``PingStatus`` Online, ConnectionLost, Inactive)."""
    install_ssm_shims()
    record = {
        "InstanceId": instance_id, "PingStatus": ping_status,
        "LastPingDateTime": datetime.now(timezone.utc), "AgentVersion": AGENT_VERSION,
        "IsLatestVersion": True, "PlatformType": platform,
        "PlatformName": "Amazon Linux" if platform == "Linux" else "Microsoft Windows Server",
        "ResourceType": "EC2Instance", "ComputerName": f"{instance_id}.ircli.lab",
    }
    with _LOCK:
        _REGISTERED.setdefault((account_id, region), {})[instance_id] = record


def unregister_instance(account_id: str, region: str, instance_id: str) -> None:
    with _LOCK:
        _REGISTERED.get((account_id, region), {}).pop(instance_id, None)


def _wanted_ids(response: Any) -> set[str] | None:
    """Instance ids asked for through ``Filters`` or ``InstanceInformationFilterList``."""
    wanted: set[str] | None = None
    for flt in response._get_param("Filters") or []:
        if flt.get("Key") == "InstanceIds":
            wanted = (wanted or set()) | set(flt.get("Values") or [])
    for flt in response._get_param("InstanceInformationFilterList") or []:
        if flt.get("key") == "InstanceIds":
            wanted = (wanted or set()) | set(flt.get("valueSet") or [])
    return wanted


def _describe_instance_information(self: Any) -> Any:
    from moto.core.responses import ActionResult

    with _LOCK:
        found = list(_REGISTERED.get((self.current_account, self.region), {}).values())
    wanted = _wanted_ids(self)
    if wanted is not None:
        found = [r for r in found if r["InstanceId"] in wanted]
    return ActionResult({"InstanceInformationList": found})


def _cancel_command(self: Any) -> Any:
    """Cancel a command's unfinished invocations, as SSM does (terminal ones keep their state)."""
    from moto.core.responses import EmptyResult

    command = self.ssm_backend.get_command_by_id(self._get_param("CommandId"))
    only = set(self._get_param("InstanceIds") or [])
    for inv in command.invocations:
        if (not only or inv["InstanceId"] in only) and inv.get("Status") not in _TERMINAL:
            inv.update({"Status": "Cancelled", "StatusDetails": "Cancelled"})
    if all(inv.get("Status") in _TERMINAL for inv in command.invocations):
        command.status = command.status_details = "Cancelled"
    return EmptyResult()


_SHIMS: dict[str, Callable[[Any], Any]] = {
    "describe_instance_information": _describe_instance_information,
    "cancel_command": _cancel_command,
}


def install_ssm_shims() -> None:
    """Add the missing SSM actions to moto's response class (idempotent; never replaces one
    moto implements itself, so a moto that gains them is used as is)."""
    try:
        from moto.ssm.responses import SimpleSystemManagerResponse
    except ImportError as exc:
        raise EmulatorInternalsError(
            "moto.ssm.responses is not importable, so the SSM emulator gaps cannot be filled.",
            "Install moto[server] 5.2.x for the lab and the tests.",
        ) from exc
    for name, shim in _SHIMS.items():
        if name not in vars(SimpleSystemManagerResponse):
            setattr(SimpleSystemManagerResponse, name, shim)
    _address_only_named_instances()


def _address_only_named_instances() -> None:
    """SendCommand with InstanceIds and no Targets reaches those instances only, on AWS.

    moto 5.2.x resolves an empty Targets list as "every instance in the region", so a command
    for one instance gets an invocation on each; an agent substitute that plays every
    instance (the lab) would then run the collector once per instance, all uploading to the
    one presigned key. Empty targets resolve to no extra instance here, as on AWS.
    """
    try:
        from moto.ssm.models import Command
    except ImportError as exc:
        raise EmulatorInternalsError(
            "moto.ssm.models.Command is not importable, so SendCommand targeting cannot be "
            "fixed.", "Install moto[server] 5.2.x for the lab and the tests.") from exc
    original = vars(Command).get("_get_instance_ids_from_targets")
    if original is None or getattr(original, "_ircli_shim", False):
        return

    def only_targets(self: Any) -> list[str]:
        return list(original(self)) if self.targets else []

    only_targets._ircli_shim = True  # type: ignore[attr-defined]
    Command._get_instance_ids_from_targets = only_targets  # type: ignore[method-assign]

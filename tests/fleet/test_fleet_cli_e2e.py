"""The real `ircli` command against a moto server over HTTP: a fleet contained, then released
by its case ids read from stdin; without a terminal, progress is one plain line per change."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from tests.accounts.conftest import run_instance
from tests.e2e.conftest import CliResult, _ircli_command

pytestmark = pytest.mark.e2e


def cli(*args: str, stdin: str | None = None) -> CliResult:
    """The installed command, in a subprocess, no terminal (the endpoint is in os.environ)."""
    proc = subprocess.run([*_ircli_command(), *args], capture_output=True, text=True,
                          input=stdin if stdin is not None else "", timeout=120)
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def _groups(ec2: Any, instance: str) -> list[str]:
    enis = ec2.describe_network_interfaces(Filters=[
        {"Name": "attachment.instance-id", "Values": [instance]}])["NetworkInterfaces"]
    return sorted(g["GroupName"] for eni in enis for g in eni["Groups"])


def test_a_fleet_is_contained_and_released_through_the_cli(server_clients: Any) -> None:
    ec2 = server_clients("ec2")
    ids = [run_instance(ec2) for _ in range(3)]
    done = cli("contain", *ids, "--yes", "--no-snapshot", "--parallel", "3")
    assert done.code == 0, done.stderr
    assert "Traceback" not in done.stderr
    for instance in ids:
        assert _groups(ec2, instance) == ["ircli-isolation-endpoints"]
        assert f"✓ {instance}: contained" in done.stderr  # its end, one line
        assert f"… {instance}: Isolate the network" in done.stderr  # a step starting
    assert "prepared" in done.stderr and "3 of 3 done; exit code 0" in done.stdout

    listed = cli("contain", *ids, "--dry-run", "-o", "json")  # the cases they are now under
    cases = [t["case_id"] for t in listed.json()["targets"]]
    assert len(set(cases)) == 3
    released = cli("release", "--targets-file", "-", "--yes", "-o", "json",
                   stdin="\n".join(cases) + "\n")
    assert released.code == 0, released.stderr
    assert {t["status"] for t in released.json()["targets"]} == {"released"}
    assert all(_groups(ec2, instance) == ["web"] for instance in ids)

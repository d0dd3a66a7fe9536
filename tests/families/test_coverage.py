"""`ircli runbook coverage`: every known GuardDuty type has a runbook or a stated reason."""

from __future__ import annotations

from fnmatch import fnmatchcase
from pathlib import Path

import pytest

from ircli.runbook.library import all_runbooks
from ircli.triage.coverage import coverage, coverage_document
from ircli.triage.finding_types import FINDING_TYPES, SOURCE, UNANSWERED
from tests.helpers import ircli

SHIPPED = Path(__file__).resolve().parents[2] / "runbooks"


def test_no_type_is_left_without_a_runbook_or_a_reason() -> None:
    rows = coverage(all_runbooks())
    assert [r.finding_type for r in rows] == list(FINDING_TYPES)
    assert [r.finding_type for r in rows if not r.answered] == []
    assert len(set(FINDING_TYPES)) == len(FINDING_TYPES)  # the list names each type once
    assert "guardduty_finding-types-active" in SOURCE


def test_every_stated_reason_is_used_by_a_type() -> None:
    """A reason no listed type reaches is dead text (or a typo in its pattern, or a family
    that now has its runbook)."""
    shown = {r.reason for r in coverage(all_runbooks())}
    for pattern, reason in UNANSWERED:
        assert any(fnmatchcase(t, pattern) for t in FINDING_TYPES), pattern
        assert reason in shown, pattern


@pytest.mark.parametrize(("finding_type", "when", "runbook"), [
    ("Impact:EC2/MaliciousDomainRequest.Reputation", "resource role ACTOR", "ec2-compromise"),
    ("Impact:EC2/AbusedDomainRequest.Reputation", "resource role TARGET", "ec2-compromise"),
    ("Impact:EC2/BitcoinDomainRequest.Reputation", "resource role ACTOR", "crypto-mining"),
    ("DefenseEvasion:EC2/UnusualDoTActivity", "resource role ACTOR", "ec2-compromise"),
    ("DefenseEvasion:EC2/UnusualDoHActivity", "resource role ACTOR", "ec2-compromise"),
    ("UnauthorizedAccess:EC2/SSHBruteForce", "resource role TARGET", "ssh-brute-force"),
    ("UnauthorizedAccess:EC2/SSHBruteForce", "resource role ACTOR", "ec2-compromise"),
    ("UnauthorizedAccess:IAMUser/TorIPCaller", "IAM user", "iam-key-compromise"),
    ("UnauthorizedAccess:IAMUser/TorIPCaller", "assumed role", "assumed-role-compromise"),
    ("Execution:Runtime/ReverseShell", "node affected", "ec2-compromise"),
    ("Execution:Runtime/ReverseShell", "pod only", "kubernetes-workload"),
    ("Impact:Runtime/CryptoMinerExecuted", "node affected", "crypto-mining"),
    ("PrivilegeEscalation:Runtime/RuncContainerEscape", "pod only", "ec2-compromise"),
    ("Execution:Kubernetes/ExecInKubeSystemPod", "workload named", "kubernetes-workload"),
    ("Policy:S3/BucketPublicAccessGranted", "", "s3-exposure"),
    ("Stealth:IAMUser/CloudTrailLoggingDisabled", "IAM user", "cloudtrail-tampering"),
    ("CryptoCurrency:Lambda/BitcoinTool.B", "", "lambda-compromise"),
    ("CredentialAccess:RDS/AnomalousBehavior.SuccessfulLogin", "", "rds-compromise"),
    ("Exfiltration:S3/AnomalousBehavior", "", "s3-exfiltration"),
])
def test_types_that_fell_through_now_get_their_runbook(finding_type: str, when: str,
                                                       runbook: str) -> None:
    row = next(r for r in coverage(all_runbooks()) if r.finding_type == finding_type)
    assert {a["when"]: a["runbook"] for a in row.answers}[when] == runbook


def test_the_command_lists_types_runbooks_and_reasons(capsys) -> None:
    result = ircli(capsys, "runbook", "coverage")
    assert result.code == 0, result.err
    assert result.data["unanswered"] == []
    assert result.data["types"] == len(FINDING_TYPES)
    by_type = {r["type"]: r for r in result.data["coverage"]}
    assert by_type["Recon:EC2/PortProbeUnprotectedPort"]["reason"].startswith(
        "an open port probed from outside is exposure")
    text = ircli(capsys, "runbook", "coverage", json_output=False)
    assert text.code == 0
    assert "Impact:EC2/PortSweep\tresource role ACTOR\tec2-compromise" in text.out
    assert "Amazon GuardDuty User Guide" in text.out.splitlines()[0]


def test_a_runbook_set_that_leaves_a_type_unanswered_says_so(capsys, tmp_path) -> None:
    """Replace ec2-compromise with one answering only backdoors: the EC2 impact types lose
    their answer and the command exits 3 (partial) naming them."""
    text = (SHIPPED / "ec2-compromise.yaml").read_text()
    head, _, rest = text.partition("finding_types:")
    _, _, steps = rest.partition("\nsteps:")
    (tmp_path / "ec2-compromise.yaml").write_text(
        f'{head}finding_types:\n  - "Backdoor:EC2/*"\nsteps:{steps}')
    result = ircli(capsys, "runbook", "coverage", "--runbooks-dir", str(tmp_path))
    assert result.code == 3
    assert "Impact:EC2/PortSweep" in result.data["unanswered"]
    assert "Backdoor:EC2/Spambot" not in result.data["unanswered"]
    assert coverage_document(all_runbooks())["unanswered"] == []  # shipped set untouched

"""Settings from the config file and environment; notify from a runbook argument; the policy."""

from __future__ import annotations

from pathlib import Path

from ircli.catalog.policy import least_privilege_policy
from tests.helpers import ircli
from tests.runbooks.conftest import Network, write


def test_runbooks_dir_and_notify_topic_from_the_config_file(capsys, clients, network: Network,
                                                           aws_env: Path, cli_clock) -> None:
    mine = aws_env.parent / "my-runbooks"
    mine.mkdir()
    write(mine, "block-and-tell", """\
name: block-and-tell
description: Block for two hours, then tell the team.
target: ip
finding_types: ["Recon:EC2/PortProbeUnprotectedPort"]
steps:
  - step: block-ip
    args: {hours: 2}
  - notify
""")
    sns, sqs = clients("sns"), clients("sqs")
    topic = sns.create_topic(Name="from-config")["TopicArn"]
    queue = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn,
                  Attributes={"RawMessageDelivery": "true"})
    aws_env.mkdir(exist_ok=True)
    (aws_env / "config.toml").write_text(
        f'[runbooks]\ndir = "{mine}"\n\n[notify]\ntopic = "{topic}"\n')
    result = ircli(capsys, "runbook", "run", "block-and-tell", "--target", "192.0.2.10",
                   "--vpc", network.vpc, "--yes")
    assert result.code == 0, result.err
    assert result.data["blocks"][0]["expires_at"] == "2026-11-28T05:00:00Z"
    [message] = sqs.receive_message(QueueUrl=queue)["Messages"]
    assert f"ircli case {result.data['case_id']}" in message["Body"]
    assert "Target: ip/192.0.2.10" in message["Body"]
    assert "Block the address in network ACLs: done" in message["Body"]


def test_notify_failure_fails_only_that_step(capsys, clients, network: Network, tmp_path,
                                             cli_clock) -> None:
    path = write(tmp_path, "tell-nobody", """\
name: tell-nobody
description: Notify a topic that does not exist.
target: ip
steps:
  - block-ip
  - step: notify
    args: {topic_arn: "arn:aws:sns:us-east-1:123456789012:gone"}
""")
    result = ircli(capsys, "runbook", "run", str(path), "--target", "192.0.2.11",
                   "--vpc", network.vpc, "--yes")
    assert result.code == 3  # partial: the block stands, the notice did not go out
    statuses = {s["name"]: s["status"] for s in result.data["steps"]}
    assert statuses == {"resolve-network": "done", "block-ip": "done", "notify": "failed"}
    assert result.data["status"] == "partial"


def test_env_notify_topic_is_checked_and_scope_flags_fit_the_kind(capsys, clients,
                                                                  monkeypatch) -> None:
    monkeypatch.setenv("IRCLI_NOTIFY_TOPIC", "not-an-arn")
    bad = ircli(capsys, "runbook", "run", "ssh-brute-force", "--target", "192.0.2.1",
                "--vpc", "vpc-0123456789abcdef0", "--dry-run")
    assert bad.code == 2 and "'not-an-arn' is not an SNS topic ARN" in bad.err
    monkeypatch.delenv("IRCLI_NOTIFY_TOPIC")
    wrong = ircli(capsys, "runbook", "run", "iam-key-compromise", "--target",
                  "AKIAIOSFODNN7EXAMPLE", "--vpc", "vpc-0123456789abcdef0", "--dry-run")
    assert wrong.code == 2 and "--vpc and --subnet apply to IP runbooks" in wrong.err


def test_show_and_steps_text(capsys) -> None:
    shown = ircli(capsys, "runbook", "show", "ssh-brute-force", json_output=False)
    assert shown.code == 0
    assert "  1. resolve-network" in shown.out and "always first" in shown.out
    assert "  2. block-ip" in shown.out and "(hours=24)" in shown.out
    steps = ircli(capsys, "runbook", "steps", "block-ip", "notify", json_output=False)
    assert "hours: integer (default 24) — how long the block lasts" in steps.out
    assert "topic_arn: string | null (default None)" in steps.out
    data = ircli(capsys, "runbook", "steps", "isolate").data
    assert data["steps"][0]["args"]["ssm_egress"]["enum"] == ["endpoints", "any", "none"]
    assert data["steps"][0]["targets"] == ["instance"]
    assert ircli(capsys, "runbook", "steps", "nope").code == 2


def test_policy_covers_the_new_steps() -> None:
    actions = {a for s in least_privilege_policy()["Statement"] for a in s["Action"]}
    assert {"ec2:CreateNetworkAclEntry", "ec2:DeleteNetworkAclEntry", "ec2:DescribeNetworkAcls",
            "ec2:CreateTags", "ec2:DeleteTags", "sns:Publish"} <= actions

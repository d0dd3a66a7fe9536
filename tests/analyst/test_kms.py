"""Encrypted snapshots: same key in this account; across accounts, say what sharing is missing."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import botocore.exceptions
import pytest

from ircli.analyst.kms import volume_encryption
from tests.analyst.conftest import CASE, RunCli, Scene, launch_args, problems

ACCOUNT = "123456789012"
OTHER = "210987654321"
FOREIGN_KEY = f"arn:aws:kms:us-east-1:{OTHER}:key/1234abcd-12ab-34cd-56ef-1234567890ab"


class FakeKms:
    """describe_key as another account's key looks from here."""

    def __init__(self, manager: str | None) -> None:
        self.manager = manager

    def describe_key(self, KeyId: str) -> dict[str, Any]:
        if self.manager is None:
            raise botocore.exceptions.ClientError(
                {"Error": {"Code": "AccessDeniedException", "Message": "denied"}},
                "DescribeKey")
        return {"KeyMetadata": {"KeyId": KeyId, "KeyManager": self.manager}}


def _ctx(manager: str | None) -> Any:
    aws = SimpleNamespace(identity=lambda: {"account": ACCOUNT},
                          client=lambda service: FakeKms(manager))
    return SimpleNamespace(aws=aws)


def _snapshot(owner: str, key: str | None) -> dict[str, Any]:
    return {"SnapshotId": "snap-0123456789abcdef0", "OwnerId": owner,
            "Encrypted": key is not None, "KmsKeyId": key}


def test_own_snapshots_keep_their_key_and_plain_ones_get_encrypted() -> None:
    mine = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/mine"
    assert volume_encryption(_ctx(None), _snapshot(ACCOUNT, mine)) == (
        {"Encrypted": True, "KmsKeyId": mine}, None)
    assert volume_encryption(_ctx(None), _snapshot(ACCOUNT, None)) == ({"Encrypted": True},
                                                                      None)


@pytest.mark.parametrize(("manager", "expected"), [
    ("AWS", "aws/ebs key, which AWS never lets another account use"),
    (None, f"may not use KMS key {FOREIGN_KEY} of account {OTHER}"),
])
def test_another_accounts_key_explains_the_sharing_needed(manager: str | None,
                                                          expected: str) -> None:
    params, problem = volume_encryption(_ctx(manager), _snapshot(OTHER, FOREIGN_KEY))
    assert params == {} and problem is not None
    assert expected in problem
    assert f"account {ACCOUNT}" in problem and "kms:CreateGrant" in problem


def test_another_accounts_shared_customer_key_reencrypts_under_this_accounts_key() -> None:
    assert volume_encryption(_ctx("CUSTOMER"), _snapshot(OTHER, FOREIGN_KEY)) == (
        {"Encrypted": True}, None)


def test_attach_copies_a_customer_key_snapshot_with_the_same_key(clients: Any, cli: RunCli,
                                                                scene: Scene) -> None:
    """moto 5.2.5 drops the KMS key from snapshots (CreateSnapshots), so re-key one by copy."""
    ec2 = clients("ec2")
    encrypted = next(s for s in scene.snapshots if s["encrypted"])
    copy = ec2.copy_snapshot(SourceSnapshotId=encrypted["snapshot_id"], SourceRegion="us-east-1",
                             Encrypted=True, KmsKeyId=scene.lab.kms_key_id)["SnapshotId"]
    code, launched = cli(*launch_args("--create-network"))
    assert code == 0, problems(launched)
    case_file = Path(launched["case_dir"], "case.json")
    case = json.loads(case_file.read_text())
    for snap in case["targets"][scene.lab.suspect]["snapshots"]:
        if snap["snapshot_id"] == encrypted["snapshot_id"]:
            snap["snapshot_id"] = copy
    case_file.write_text(json.dumps(case))
    code, data = cli("analyst", "attach", "--case-id", CASE, "--yes")
    assert code == 0, problems(data)
    [volume] = ec2.describe_volumes(Filters=[{"Name": "snapshot-id", "Values": [copy]}])[
        "Volumes"]
    assert volume["Encrypted"] is True
    assert volume["KmsKeyId"] == ec2.describe_snapshots(SnapshotIds=[copy])["Snapshots"][0][
        "KmsKeyId"]

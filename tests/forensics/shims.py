"""Where the emulator (moto 5.2) differs from AWS in what these tests need, and the small shim
each difference gets. Product code follows AWS; only the tests carry these.

- ``assume_role_needs_the_role``: moto's AssumeRole succeeds for a role that does not exist
  (its docstring says so); AWS answers AccessDenied. ``forensics check`` must fail its role
  row then, so the test makes moto refuse a role its IAM backend does not hold.
- ``share_into``: moto records a snapshot's createVolumePermission but never lets the account
  it is shared with see the snapshot (CreateVolume there answers InvalidSnapshot.NotFound).
  AWS lets that account describe it and create volumes from it. The shim puts the very
  snapshot object into the receiving account's EC2 backend, and only for snapshots whose
  permission names that account, so a copy ircli did not share stays invisible there.
- ``copy_honours_encrypted``: moto's CopySnapshot ignores ``Encrypted=true`` (the copy keeps
  the source's state); AWS encrypts the copy under ``KmsKeyId``.
"""

from __future__ import annotations

from typing import Any

import pytest
from moto.ec2.models import ec2_backends
from moto.iam.models import iam_backends
from moto.sts.models import STSBackend

__all__ = ["assume_role_needs_the_role", "copy_honours_encrypted", "share_into"]


def assume_role_needs_the_role(monkeypatch: pytest.MonkeyPatch) -> None:
    """AssumeRole of a role that does not exist is AccessDenied, as in AWS."""
    from moto.sts.exceptions import STSClientError

    real = STSBackend.assume_role

    def checked(self: STSBackend, **kwargs: Any) -> Any:
        arn = kwargs["role_arn"]
        account, name = arn.split(":")[4], arn.split("/")[-1]
        roles = iam_backends[account]["global"].roles.values()
        if not any(r.name == name for r in roles):
            raise STSClientError("AccessDenied", f"User is not authorized to perform: "
                                 f"sts:AssumeRole on resource: {arn}")
        return real(self, **kwargs)

    monkeypatch.setattr(STSBackend, "assume_role", checked)


def share_into(owner: str, receiver: str, region: str) -> list[str]:
    """Make the snapshots of ``owner`` shared with ``receiver`` visible there (as AWS does);
    returns their ids."""
    source = ec2_backends[owner][region]
    target = ec2_backends[receiver][region]
    shared = []
    for snapshot_id, snapshot in source.snapshots.items():
        if receiver in snapshot.create_volume_permission_userids:
            target.snapshots[snapshot_id] = snapshot
            shared.append(snapshot_id)
    return shared


def copy_honours_encrypted(monkeypatch: pytest.MonkeyPatch) -> None:
    """AWS encrypts a copy made with ``Encrypted=true`` (under ``KmsKeyId``) whatever the
    source; moto's CopySnapshot keeps the source's ``Encrypted`` and ignores the parameter.
    The shim marks the copy encrypted when the request asked for it, and only then."""
    from moto.ec2.responses.elastic_block_store import ElasticBlockStore

    real = ElasticBlockStore.copy_snapshot

    def copy(self: Any) -> Any:
        before = set(self.ec2_backend.snapshots)
        result = real(self)
        if str(self._get_param("Encrypted")).lower() == "true":
            for snapshot_id in set(self.ec2_backend.snapshots) - before:
                self.ec2_backend.snapshots[snapshot_id].encrypted = True
        return result

    monkeypatch.setattr(ElasticBlockStore, "copy_snapshot", copy)


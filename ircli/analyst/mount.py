"""How to look at an evidence copy without changing it: read-only block device, no journal replay.

A plain ``mount -o ro`` still replays an ext4 or XFS journal, which writes to the disk; ``noload``
(ext4) and ``norecovery`` (XFS) stop that. ``nouuid`` lets XFS mount a copy whose UUID equals the
analyst's own root (both from the same Amazon Linux image).
"""

from __future__ import annotations

from typing import Any

from ircli.analyst import names as n
from ircli.aws.ec2 import tag_value
from ircli.steps.names import TAG_DEVICE, TAG_INSTANCE

MOUNT_ROOT = "/mnt/evidence"


def mount_hint(volume: dict[str, Any], instance_id: str) -> dict[str, Any] | None:
    """Where a copy shows up on the analyst and the commands to mount it read-only."""
    attachment = next((a for a in volume.get("Attachments", [])
                       if a["InstanceId"] == instance_id), None)
    if attachment is None:
        return None
    vid = volume["VolumeId"]
    snap = tag_value(volume, n.TAG_SOURCE_SNAPSHOT) or vid
    by_id = f"/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_{vid.replace('-', '')}"
    xen = attachment["Device"].replace("/dev/sd", "/dev/xvd")
    target = f"{MOUNT_ROOT}/{snap}"
    return {
        "volume_id": vid, "snapshot_id": snap, "device": attachment["Device"],
        "source_volume": tag_value(volume, n.TAG_SOURCE_VOLUME),
        "original_device": tag_value(volume, TAG_DEVICE),
        "suspect_instance": tag_value(volume, TAG_INSTANCE),
        "mount_point": target,
        "commands": [
            f"DEV=$(readlink -f {by_id} 2>/dev/null || echo {xen})  # Nitro: nvme; Xen: xvd",
            "for p in $(lsblk -lnpo NAME $DEV); do sudo blockdev --setro $p; done",
            "lsblk -f $DEV  # pick the partition (PART) and see its filesystem",
            f"sudo mkdir -p {target}",
            f"sudo mount -o ro,noload PART {target}  # ext4 (and ext3)",
            f"sudo mount -o ro,norecovery,nouuid PART {target}  # XFS",
        ],
    }

"""One moto server per worker serves every over-HTTP test: ``endpoint`` resets it before
each, so nothing a test made is seen by the next (the two tests below run in this order on
one worker, see tests/hygiene/test_worker_grouping.py)."""

from __future__ import annotations

from typing import Any

from ircli.lab.web_compromise import lab_image

LEFT_BEHIND: list[str] = []


def test_one_test_leaves_an_instance_and_a_bucket(server_clients: Any) -> None:
    ec2 = server_clients("ec2")
    LEFT_BEHIND.append(ec2.run_instances(ImageId=lab_image(ec2), MinCount=1, MaxCount=1)[
        "Instances"][0]["InstanceId"])
    server_clients("s3").create_bucket(Bucket="left-behind")


def test_the_next_test_finds_a_clean_emulator(server_clients: Any) -> None:
    # run alone it has nothing to find; after the test above, its instance and bucket
    # must be gone (LEFT_BEHIND names the instance in a failure)
    reservations = server_clients("ec2").describe_instances()["Reservations"]
    assert [i["InstanceId"] for r in reservations for i in r["Instances"]] == [], LEFT_BEHIND
    assert server_clients("s3").list_buckets()["Buckets"] == []

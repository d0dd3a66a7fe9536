"""The suite's emulator shims (tests/conftest.py) take out only what ircli never uses."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from moto.core import responses
from moto.ec2.models import amis
from moto.ec2.responses import EC2Response

from ircli.lab.server import dispatch_without_reflection, leave_out_ecs_images
from ircli.lab.web_compromise import lab_image
from tests.conftest import KMS_KEY_POOL


def test_ecs_images_are_left_out_and_the_images_ircli_uses_stay(clients: Any) -> None:
    leave_out_ecs_images()  # a second call changes nothing
    assert amis.load_resource("ec2/resources/ecs/optimized_amis/us-east-1.json") == []
    ec2 = clients("ec2")
    images = ec2.describe_images(Owners=["amazon"])["Images"]
    assert 0 < len(images) < 200, "moto's own default and latest images only"
    assert not [i for i in images if "ecs" in i.get("Name", "").lower()]
    assert lab_image(ec2).startswith("ami-")
    # the analyst's image comes from SSM's public parameter: it must still exist in EC2
    name = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
    image = clients("ssm").get_parameter(Name=name)["Parameter"]["Value"]
    assert ec2.describe_images(ImageIds=[image])["Images"][0]["ImageId"] == image


@pytest.mark.parametrize("spec", ["RSA_2048", "ECC_NIST_P256"])
def test_pooled_kms_keys_are_distinct_within_a_test(clients: Any, spec: str) -> None:
    """An attacker's key made beside the responder's must not be the responder's: what one
    key signed, another key of the same test refuses."""
    kms = clients("kms")
    keys = [kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec=spec)["KeyMetadata"]["KeyId"]
            for _ in range(KMS_KEY_POOL)]
    public = {base64.b64encode(kms.get_public_key(KeyId=k)["PublicKey"]) for k in keys}
    assert len(public) == KMS_KEY_POOL
    algorithm = "RSASSA_PSS_SHA_256" if spec.startswith("RSA") else "ECDSA_SHA_256"
    signed = kms.sign(KeyId=keys[0], Message=b"manifest", SigningAlgorithm=algorithm)
    other = kms.verify(KeyId=keys[1], Message=b"manifest", Signature=signed["Signature"],
                       SigningAlgorithm=algorithm)
    assert other["SignatureValid"] is False
    same = kms.verify(KeyId=keys[0], Message=b"manifest", Signature=signed["Signature"],
                      SigningAlgorithm=algorithm)
    assert same["SignatureValid"] is True


def test_each_response_class_is_listed_once_and_calls_still_dispatch(clients: Any) -> None:
    dispatch_without_reflection()  # a second call changes nothing
    names = responses.method_names_from_class
    assert getattr(names, "ircli_once", False)
    assert names(EC2Response) is names(EC2Response)
    assert "describe_instances" in names(EC2Response)
    assert clients("ec2").describe_vpcs()["Vpcs"]  # moto's default VPC, found by dispatch

"""The suite's emulator shims (tests/conftest.py) take out only what ircli never uses, and
change no answer."""

from __future__ import annotations

import base64
import warnings
from typing import Any

import boto3
import botocore.hooks
import botocore.session
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core import responses
from moto.core.base_backend import BackendDict
from moto.core.botocore_stubber import BotocoreStubber
from moto.ec2.models import amis
from moto.ec2.responses import EC2Response
from moto.s3 import models as s3_models

from ircli.lab.server import (
    backends_found_directly,
    dispatch_without_reflection,
    leave_out_ecs_images,
    one_model_loader,
    request_ids_where_they_go,
)
from ircli.lab.web_compromise import lab_image
from tests.conftest import KMS_KEY_POOL, botocore_work_once, route_each_service_once


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


def test_an_action_added_after_the_first_call_is_dispatched(
        clients: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The lab adds the SSM actions moto lacks after SSM has answered other calls; a list of
    names kept from before answered them with a 500, which botocore retried for seconds."""
    from moto.ssm.responses import SimpleSystemManagerResponse

    from ircli.liveresponse.emulator import _describe_instance_information

    if "describe_instance_information" in vars(SimpleSystemManagerResponse):
        monkeypatch.delattr(SimpleSystemManagerResponse, "describe_instance_information")
    names = responses.method_names_from_class
    clients("ssm").describe_parameters()  # dispatched: the class is listed without the action
    assert "describe_instance_information" not in names(SimpleSystemManagerResponse)
    monkeypatch.setattr(SimpleSystemManagerResponse, "describe_instance_information",
                        _describe_instance_information, raising=False)
    assert "describe_instance_information" in names(SimpleSystemManagerResponse)
    assert clients("ssm").describe_instance_information()["InstanceInformationList"] == []


def test_each_service_is_routed_once_and_every_call_still_answers(
        clients: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    assert getattr(BotocoreStubber.process_request, "ircli_routes_once", False)
    route_each_service_once()  # a second call changes nothing
    s3 = clients("s3")
    s3.create_bucket(Bucket="routed")  # the process's first S3 call may build the table
    reloads: list[Any] = []
    monkeypatch.setattr(s3_models, "reload", lambda module: reloads.append(module) or module)
    s3.put_object(Bucket="routed", Key="k", Body=b"v")
    assert s3.get_object(Bucket="routed", Key="k")["Body"].read() == b"v"
    assert not reloads, "S3's URL table was built again for a request"
    with pytest.raises(ClientError) as missing:
        s3.head_object(Bucket="routed", Key="absent")
    assert missing.value.response["Error"]["Code"] == "404"
    assert clients("ec2").describe_vpcs()["Vpcs"]
    assert clients("sts").get_caller_identity()["Account"]


def test_sessions_share_one_model_loader_and_moto_keeps_its_own(
        clients: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    assert getattr(botocore.session.create_loader, "ircli_shared", False)
    one_model_loader()  # a second call changes nothing
    first, second = boto3.Session(), boto3.Session()
    loader = first._session.get_component("data_loader")
    assert loader is second._session.get_component("data_loader")
    assert len(loader.search_paths) == len(set(loader.search_paths)), loader.search_paths
    monkeypatch.setenv("AWS_DATA_PATH", "/nonexistent-models")
    assert boto3.Session()._session.get_component("data_loader") is not loader
    # moto's parser reads its own loader, which adds moto's error codes to AWS's models: an
    # SQS error still maps to its shape, with no warning that it does not
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ClientError) as missing:
            clients("sqs").get_queue_url(QueueName="absent")
    assert missing.value.response["Error"]["Code"] in (
        "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")


def test_request_ids_still_reach_xml_and_json_is_left_alone(clients: Any) -> None:
    request_ids_where_they_go()  # a second call changes nothing
    assert getattr(responses.BaseResponse._enrich_response, "ircli_only_xml", False)
    headers, body = responses.BaseResponse._enrich_response(
        {}, "<R><RequestId>old</RequestId></R>")
    assert "old" not in body and headers["x-amzn-requestid"] in body
    json_body = '{"RequestId": "kept"}'
    headers, same = responses.BaseResponse._enrich_response({"status": 200}, json_body)
    assert same is json_body and headers["status"] == "200" and headers["x-amzn-requestid"]
    answer = clients("sts").get_caller_identity()["ResponseMetadata"]
    assert answer["RequestId"] and answer["HTTPStatusCode"] == 200


def test_backends_are_found_directly_and_a_reset_still_empties_them() -> None:
    assert getattr(BackendDict._create_account_specific_backend, "ircli_direct", False)
    backends_found_directly()  # a second call changes nothing
    for _ in range(2):  # the second time round starts from moto's reset
        with mock_aws():
            s3 = boto3.client("s3", region_name="us-east-1")
            assert s3.list_buckets()["Buckets"] == [], "a reset left a bucket behind"
            s3.create_bucket(Bucket="gone-at-reset")
            assert s3_models.s3_backends in BackendDict._instances  # what reset will empty
            other = boto3.client("sts", region_name="us-east-1").assume_role(
                RoleArn="arn:aws:iam::210987654321:role/r", RoleSessionName="shim")["Credentials"]
            theirs = boto3.client("s3", region_name="us-east-1",
                                  aws_access_key_id=other["AccessKeyId"],
                                  aws_secret_access_key=other["SecretAccessKey"],
                                  aws_session_token=other["SessionToken"])
            assert theirs.list_buckets()["Buckets"] == []  # another account's own backends


def test_botocore_work_done_once_gives_the_same_answers() -> None:
    assert getattr(botocore.hooks.accepts_kwargs, "ircli_once", False)
    botocore_work_once()  # a second call changes nothing
    one, two = boto3.Session()._session, boto3.Session()._session
    assert one._events._alias_name_cache is two._events._alias_name_cache
    heard: list[str] = []
    one.register("ircli-test.apigateway", lambda **kwargs: heard.append("old name"))
    one._events.emit("ircli-test.api-gateway")  # the alias reaches the old name's handler
    assert heard == ["old name"]

    class Handlers:
        def without(self, event: Any) -> None: ...

        def with_kwargs(self, **kwargs: Any) -> None: ...

    for _ in range(2):  # the second time from what was remembered
        with pytest.raises(ValueError):
            two.register("before-call.s3", Handlers().without)
        with pytest.raises(ValueError):
            two.register("before-call.s3", lambda event: None)
        two.register("before-call.s3", Handlers().with_kwargs)
    first, second = (boto3.Session().client("s3", region_name="us-east-1") for _ in range(2))
    assert first._endpoint.http_session._manager.connection_pool_kw["ssl_context"] is \
        second._endpoint.http_session._manager.connection_pool_kw["ssl_context"]


def test_clients_of_one_service_share_its_model_and_still_answer(clients: Any) -> None:
    first, second = clients("ec2"), boto3.session.Session(region_name="us-east-1").client("ec2")
    assert first.meta.service_model is second.meta.service_model
    assert first.meta.service_model is not clients("iam").meta.service_model
    assert second.describe_vpcs()["Vpcs"] == first.describe_vpcs()["Vpcs"]
    extras = botocore.session.get_session()
    extras.set_config_variable("data_path", "/nonexistent")  # a loader of its own
    other = extras.create_client("ec2", region_name="us-east-1")
    assert other.meta.service_model is not first.meta.service_model
    assert other.meta.service_model.service_name == "ec2"


"""The one way ircli reaches AWS: profile, role, region, partition, endpoint, retries, user agent.

Every client comes from :class:`AwsSession`, so every call is retried the same way
(botocore ``standard`` mode for throttling and 5xx), carries the ircli user agent, honours
``AWS_ENDPOINT_URL`` (how the local emulator is reached) and is seen by the call observers
(the case's audit log, the benchmark's call counter).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.exceptions
from botocore.config import Config
from botocore.regions import EndpointResolver

from ircli import __version__
from ircli.core.errors import CredentialsMissing, RegionMissing

CallObserver = Callable[["ApiCall"], None]

_READ_PREFIXES = ("Describe", "Get", "List", "Head", "Lookup", "Search", "Select", "Generate")
_SECRET_KEY = re.compile(r"(?i)(password|secret|token|credential|privatekey|presigned|url)")
_SESSION_NAME_CHARS = re.compile(r"[^\w+=,.@-]")


@dataclass(frozen=True)
class AwsSettings:
    """What the user chose on the command line or in the environment (None = AWS default)."""

    profile: str | None = None
    region: str | None = None
    role_arn: str | None = None
    endpoint_url: str | None = None
    session_label: str = "ircli"
    max_attempts: int = 8
    connect_timeout: float = 60.0
    read_timeout: float = 60.0
    static_credentials: tuple[str, str] | None = None  # (key id, secret): the lab's dummy pair


@dataclass
class ApiCall:
    """One AWS API call as the observers see it; parameters already scrubbed of secrets."""

    service: str
    operation: str
    params: dict[str, Any]
    started: float
    duration: float = 0.0
    error_code: str | None = None
    response: dict[str, Any] = field(default_factory=dict)

    @property
    def mutating(self) -> bool:
        return not self.operation.startswith(_READ_PREFIXES)


def scrub(value: Any) -> Any:
    """Replace anything that looks like a secret before it reaches a log or a case file."""
    if isinstance(value, dict):
        return {
            k: "<redacted>" if _SECRET_KEY.search(str(k)) else scrub(v) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value


class AwsSession:
    """A boto3 session plus ircli's client settings and call observers."""

    def __init__(self, settings: AwsSettings, observers: list[CallObserver] | None = None) -> None:
        self.settings = settings
        self.observers: list[CallObserver] = list(observers or [])
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._identity: dict[str, str] | None = None
        keys = settings.static_credentials
        base = boto3.Session(profile_name=settings.profile, region_name=settings.region,
                             aws_access_key_id=keys[0] if keys else None,
                             aws_secret_access_key=keys[1] if keys else None)
        if not base.region_name:
            raise RegionMissing(
                "No AWS region is set.",
                "Pass --region, or set AWS_REGION (or AWS_DEFAULT_REGION, or a region in your "
                "AWS profile).",
            )
        from ircli.core.awserrors import unknown_region

        endpoints = base._session.get_component("data_loader").load_data("endpoints")
        if (wrong := unknown_region(endpoints, base.region_name)) is not None:
            raise wrong
        self.boto = self._assume(base, settings.role_arn) if settings.role_arn else base
        self.region: str = base.region_name
        self._config = Config(
            region_name=self.region,
            retries={"mode": "standard", "max_attempts": settings.max_attempts},
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            user_agent_extra=f"ircli/{__version__}",
        )
        events = self.boto._session.get_component("event_emitter")
        events.register("before-parameter-build.*.*", self._before_call)
        events.register("after-call.*.*", self._after_call)
        events.register("after-call-error.*.*", self._after_call_error)

    @property
    def partition(self) -> str:
        return self.boto.get_partition_for_region(self.region)

    @property
    def dns_suffix(self) -> str:
        """The partition's DNS suffix (``amazonaws.com``, ``amazonaws.com.cn``, ...)."""
        endpoints = self.boto._session.get_component("data_loader").load_data("endpoints")
        return str(EndpointResolver(endpoints).get_partition_dns_suffix(self.partition))

    def client(self, service: str) -> Any:
        """A cached, thread-safe client for ``service`` with ircli's settings."""
        with self._lock:
            if service not in self._clients:
                self._clients[service] = self.boto.client(  # type: ignore[call-overload]
                    service, config=self._config, endpoint_url=self.settings.endpoint_url
                )
            return self._clients[service]

    def s3_presigner(self, region: str) -> Any:
        """An S3 client for presigned URLs: SigV4 (botocore may still presign with the
        deprecated SigV2, which newer regions refuse) in the bucket's own region."""
        key = f"s3-presign:{region}"
        with self._lock:
            if key not in self._clients:
                config = self._config.merge(Config(region_name=region,
                                                   signature_version="s3v4"))
                self._clients[key] = self.boto.client(  # type: ignore[call-overload]
                    "s3", config=config, region_name=region,
                    endpoint_url=self.settings.endpoint_url)
            return self._clients[key]

    def identity(self) -> dict[str, str]:
        """Account and caller ARN (one STS call, cached)."""
        if self._identity is None:
            resp = self.client("sts").get_caller_identity()
            self._identity = {"account": resp["Account"], "arn": resp["Arn"]}
        return self._identity

    def _assume(self, base: boto3.Session, role_arn: str) -> boto3.Session:
        label = _SESSION_NAME_CHARS.sub("-", self.settings.session_label)[:64]
        sts = base.client(
            "sts", endpoint_url=self.settings.endpoint_url, region_name=base.region_name
        )
        try:
            creds = sts.assume_role(RoleArn=role_arn, RoleSessionName=label)[
                "Credentials"
            ]
        except botocore.exceptions.NoCredentialsError as err:
            raise CredentialsMissing(
                "No AWS credentials were found to assume the role with.",
                "Configure credentials (aws configure, AWS_PROFILE or environment variables).",
            ) from err
        return boto3.Session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            region_name=base.region_name,
        )

    # botocore event hooks: they feed the observers and never change a request.
    def _before_call(self, params: dict[str, Any], model: Any, context: dict[str, Any],
                     **_: Any) -> None:
        context["ircli_call"] = ApiCall(
            service=model.service_model.service_name,
            operation=model.name,
            params=scrub(dict(params)),
            started=time.monotonic(),
        )

    def _after_call(self, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        call: ApiCall | None = context.get("ircli_call")
        if call is None:
            return
        call.duration = time.monotonic() - call.started
        call.error_code = parsed.get("Error", {}).get("Code") if "Error" in parsed else None
        call.response = parsed
        self._notify(call)

    def _after_call_error(self, exception: Exception, context: dict[str, Any],
                          **_: Any) -> None:
        call: ApiCall | None = context.get("ircli_call")
        if call is None:
            return
        call.duration = time.monotonic() - call.started
        call.error_code = type(exception).__name__
        self._notify(call)

    def _notify(self, call: ApiCall) -> None:
        for observer in list(self.observers):
            observer(call)

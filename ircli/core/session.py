"""The one way ircli reaches AWS: profile, role, region, partition, endpoint, retries, user agent.

Every client comes from :class:`AwsSession`, so every call is retried the same way
(botocore ``standard`` mode for throttling and 5xx), carries the ircli user agent, goes to
``AwsSettings.endpoint_url`` (``--endpoint-url``) when set and otherwise honours
``AWS_ENDPOINT_URL`` (how the local emulator is reached), and is seen by the call observers
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
import botocore.loaders
import botocore.session
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.regions import EndpointResolver

from ircli import __version__
from ircli.core.assume import assumed_credentials, role_arn
from ircli.core.errors import CredentialsMissing, RegionMissing, UserError

CallObserver = Callable[["ApiCall"], None]

_READ_PREFIXES = ("Describe", "Get", "List", "Head", "Lookup", "Search", "Select", "Generate")
_SECRET_KEY = re.compile(r"(?i)(password|secret|token|credential|privatekey|presigned|url)")


@dataclass(frozen=True)
class AwsSettings:
    """What the user chose on the command line or in the environment (None = AWS default)."""

    profile: str | None = None
    region: str | None = None
    role_arn: str | None = None
    account: str | None = None  # the account the target lives in (None: the caller's own)
    role_name: str | None = None  # assumed as arn:{partition}:iam::{account}:role/{role_name}
    external_id: str | None = None
    duration_seconds: int | None = None
    endpoint_url: str | None = None
    session_label: str = "ircli"
    max_attempts: int = 8
    max_pool_connections: int = 10  # per client; a fan-out raises it to its concurrency
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

    def __init__(self, settings: AwsSettings, observers: list[CallObserver] | None = None,
                 credentials: Credentials | None = None) -> None:
        self.settings = settings
        self.observers: list[CallObserver] = list(observers or [])
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._identity: dict[str, str] | None = None
        keys = settings.static_credentials
        base = _boto3_session(profile_name=settings.profile, region_name=settings.region,
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
        self.region: str = base.region_name
        arn = None if credentials else settings.role_arn or self._account_role(base)
        self.role_arn: str | None = arn
        if credentials is not None:
            self.boto = _session_with(credentials, self.region)
        else:
            self.boto = self._assume(base, arn) if arn else base
        self._config = Config(
            region_name=self.region,
            retries={"mode": "standard", "max_attempts": settings.max_attempts},
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            max_pool_connections=settings.max_pool_connections,
            user_agent_extra=f"ircli/{__version__}",
        )
        events = self.boto._session.get_component("event_emitter")
        events.register("before-parameter-build.*.*", self._before_call)
        events.register("after-call.*.*", self._after_call)
        events.register("after-call-error.*.*", self._after_call_error)
        if settings.account and not arn:
            self._check_own_account(settings.account)

    @property
    def partition(self) -> str:
        return self.boto.get_partition_for_region(self.region)

    @property
    def dns_suffix(self) -> str:
        """The partition's DNS suffix (``amazonaws.com``, ``amazonaws.com.cn``, ...)."""
        endpoints = self.boto._session.get_component("data_loader").load_data("endpoints")
        return str(EndpointResolver(endpoints).get_partition_dns_suffix(self.partition))

    def client(self, service: str, region: str | None = None) -> Any:
        """A cached, thread-safe client for ``service`` (in ``region``, default the session's)."""
        key = service if region in (None, self.region) else f"{service}@{region}"
        with self._lock:
            if key not in self._clients:
                config = self._config if key == service else self._config.merge(
                    Config(region_name=region))
                self._clients[key] = self.boto.client(  # type: ignore[call-overload]
                    service, config=config, region_name=region or self.region,
                    endpoint_url=self.settings.endpoint_url)
            return self._clients[key]

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

    @property
    def account(self) -> str:
        """The account this session acts in (the target's, once a role was assumed)."""
        return self.settings.account or self.identity()["account"]

    def location(self) -> dict[str, str | None]:
        """Where this session acts, as a case records it so later commands act there too."""
        return {"region": self.region, "account": self.settings.account,
                "role_arn": self.role_arn}

    def identity(self) -> dict[str, str]:
        """Account and caller ARN (one STS call, cached)."""
        if self._identity is None:
            resp = self.client("sts").get_caller_identity()
            self._identity = {"account": resp["Account"], "arn": resp["Arn"]}
        return self._identity

    def _account_role(self, base: boto3.Session) -> str | None:
        """The fixed-name role in ``--account``, when a role name is configured."""
        if not (self.settings.account and self.settings.role_name):
            return None
        partition = base.get_partition_for_region(self.region)
        return role_arn(partition, self.settings.account, self.settings.role_name)

    def _check_own_account(self, account: str) -> None:
        mine = self.identity()["account"]
        if mine != account:
            raise UserError(
                f"The target is in account {account}, but these credentials are for account "
                f"{mine} and no role name is configured to assume there.",
                "Pass --role-name NAME (or set IRCLI_ROLE_NAME, or [accounts] role_name in the "
                "ircli config), or --role-arn for a one-off role.")

    def _assume(self, base: boto3.Session, arn: str) -> boto3.Session:
        """A session whose credentials are the role's, renewed before they expire."""
        if base.get_credentials() is None:
            raise CredentialsMissing(
                "No AWS credentials were found to assume the role with.",
                "Configure credentials (aws configure, AWS_PROFILE or environment variables).",
            )
        sts = base.client("sts", endpoint_url=self.settings.endpoint_url,
                          region_name=self.region,
                          config=Config(retries={"mode": "standard", "max_attempts": 8},
                                        user_agent_extra=f"ircli/{__version__}"))
        creds = assumed_credentials(sts, arn, self.settings.session_label,
                                    external_id=self.settings.external_id,
                                    duration_seconds=self.settings.duration_seconds)
        return _session_with(creds, self.region)

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


def _session_with(credentials: Credentials, region: str) -> boto3.Session:
    """A boto3 session that signs with ``credentials`` (refreshable or per-thread)."""
    session = _boto3_session(region_name=region)
    # botocore's own credential providers put what they resolve here, too
    session._session._credentials = credentials  # type: ignore[attr-defined]
    return session


class _SearchPaths(list[str]):
    """A loader's search paths that keep each path once: every boto3 session appends its own
    data path to its loader's list, and here many sessions share one loader."""

    def append(self, path: str) -> None:
        if path not in self:
            super().append(path)


_LOADER: Any = None
_LOADER_LOCK = threading.Lock()


def shared_loader() -> Any:
    """The one botocore model loader of this process (see ``_boto3_session``)."""
    global _LOADER
    with _LOADER_LOCK:
        if _LOADER is None:
            loader = botocore.loaders.create_loader()
            loader._search_paths = _SearchPaths(loader.search_paths)  # type: ignore[attr-defined]
            _LOADER = loader
    return _LOADER


def _boto3_session(**kwargs: Any) -> boto3.Session:
    """A boto3 session sharing one model loader with every other session ircli makes.

    Each botocore session otherwise reads and parses the JSON models of the services it uses
    again (EC2's alone is several MB): about 0.2 s of CPU per session and client, which is
    most of the CPU a fleet of containments spends. The loader only reads files and caches
    what it read, so sharing it is safe across sessions and threads.
    """
    core = botocore.session.Session()
    core.register_component("data_loader", shared_loader())
    return boto3.Session(botocore_session=core, **kwargs)

"""One piece of work in many accounts and regions at once, bounded, with a result per pair.

Two things make a fan-out over 500 accounts × 14 regions affordable:

* **Bounded, lazy submission.** At most ``max_concurrency`` pairs are in flight and the next is
  submitted only when one finishes, so stopping at the first hit leaves nothing queued.
  The default is sized for the AWS API (calls wait on the network, not on the CPU).
* **One client per service and region, shared by every account.** Building a botocore EC2
  client costs about 20 ms of CPU; 7,000 of them would cost minutes. Instead the clients sign
  each request with the credentials of the account the *calling thread* works in
  (:class:`AccountCredentials`): botocore reads credentials afresh for every request it signs,
  and its clients are thread-safe.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import botocore.exceptions
from botocore.credentials import Credentials, ReadOnlyCredentials

from ircli.core.accounts import AccountAccess
from ircli.core.assume import assumed_credentials, role_arn
from ircli.core.awserrors import describe, error_code
from ircli.core.errors import IrcliError
from ircli.core.session import AwsSession

DEFAULT_CONCURRENCY = 64

FOUND, NOT_FOUND, DENIED, DISABLED, ERROR = (
    "found", "not-found", "access-denied", "region-disabled", "error")
_DENIED_CODES = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation",
                 "AuthFailure", "InvalidClientTokenId", "UnrecognizedClientException",
                 "ExpiredToken"}
_DISABLED_CODES = {"OptInRequired"}


@dataclass(frozen=True)
class Pair:
    account: str
    region: str
    enabled: bool = True  # False: the account has not opted in to the region


@dataclass
class PairResult:
    pair: Pair
    status: str
    detail: str = ""
    hits: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"account": self.pair.account, "region": self.pair.region,
                "status": self.status, "detail": self.detail, "hits": self.hits}


def classify(err: BaseException) -> tuple[str, str]:
    """The pair status for a failure, and one line saying what it was."""
    code = error_code(err)
    if code in _DISABLED_CODES:
        return DISABLED, describe(err)
    if code in _DENIED_CODES or isinstance(err, botocore.exceptions.NoCredentialsError):
        return DENIED, describe(err)
    if isinstance(err, IrcliError):
        return ERROR, err.message
    return ERROR, describe(err)


def run_pairs(pairs: Iterable[Pair], work: Callable[[Pair], PairResult], *,
              max_concurrency: int = DEFAULT_CONCURRENCY,
              stop: Callable[[PairResult], bool] | None = None,
              progress: Callable[[PairResult, int], None] | None = None) -> list[PairResult]:
    """Run ``work`` on each pair, ``max_concurrency`` at a time; a failure of one is its result.

    ``stop`` ends the fan-out early (e.g. on a unique hit): what is in flight finishes, nothing
    new starts. ``progress`` sees each result and how many are done.
    """
    todo = iter(pairs)
    results: list[PairResult] = []
    stopped = False

    def guarded(pair: Pair) -> PairResult:
        try:
            return work(pair)
        except Exception as err:  # one pair's failure never stops the others
            status, detail = classify(err)
            return PairResult(pair, status, detail)

    with ThreadPoolExecutor(max_workers=max(1, max_concurrency),
                            thread_name_prefix="ircli-fanout") as pool:
        running: set[Future[PairResult]] = set()

        def submit_next() -> bool:
            pair = next(todo, None)
            if pair is None:
                return False
            running.add(pool.submit(contextvars.copy_context().run, guarded, pair))
            return True

        while len(running) < max_concurrency and submit_next():
            pass
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                running.discard(future)
                result = future.result()
                results.append(result)
                if progress:
                    progress(result, len(results))
                if stop and stop(result):
                    stopped = True
            while not stopped and len(running) < max_concurrency and submit_next():
                pass
    return results


_current_account: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "ircli_account", default=None)


class AccountCredentials(Credentials):
    """Credentials that are those of whichever account the calling thread works in."""

    def __init__(self, resolve: Callable[[str | None], Credentials]) -> None:
        # No super().__init__: there is no one key; botocore signs each request with
        # get_frozen_credentials(), which is all a client asks of its credentials.
        self._resolve = resolve
        self.method = "ircli-fanout"

    def get_frozen_credentials(self) -> ReadOnlyCredentials:
        return self._resolve(_current_account.get()).get_frozen_credentials()


class AccountClients:
    """Clients for any (account, region) pair, from the central session.

    ``within(account)`` assumes the account's role once (refreshable credentials, cached for the
    run); the caller's own account is reached with the central credentials, no role needed.
    """

    def __init__(self, central: AwsSession, access: Callable[[str], AccountAccess],
                 concurrency: int = DEFAULT_CONCURRENCY) -> None:
        self.central = central
        self._access = access
        self._credentials: dict[str, Credentials] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._home = central.identity()["account"]
        base = central.boto.get_credentials()
        if base is None:
            from ircli.core.errors import CredentialsMissing

            raise CredentialsMissing("No AWS credentials were found.",
                                     "Configure the central account's credentials.")
        self._base: Credentials = base
        settings = replace(central.settings, role_arn=None, account=None,
                           max_pool_connections=max(10, concurrency))
        self.session = AwsSession(settings,
                                  central.observers, credentials=AccountCredentials(self._for))

    def _for(self, account: str | None) -> Credentials:
        if account is None or account == self._home:
            return self._base
        found = self._credentials.get(account)
        if found is None:
            raise RuntimeError(f"no credentials assumed for account {account}")  # a bug
        return found

    def assume(self, account: str) -> None:
        """Assume the account's role (once per run); AssumeRole errors propagate."""
        if account == self._home or account in self._credentials:
            return
        with self._guard:
            lock = self._locks.setdefault(account, threading.Lock())
        with lock:
            if account in self._credentials:
                return
            access = self._access(account)
            if not access.role_name:
                from ircli.core.errors import UserError

                raise UserError(f"No role name is configured to reach account {account}.",
                                "Pass --role-name NAME or set IRCLI_ROLE_NAME.")
            arn = role_arn(self.central.partition, account, access.role_name)
            self._credentials[account] = assumed_credentials(
                self.central.client("sts"), arn, self.central.settings.session_label,
                external_id=access.external_id, duration_seconds=access.duration_seconds)

    @contextmanager
    def within(self, account: str) -> Iterator[None]:
        """Calls made by this thread inside the block act in ``account``."""
        self.assume(account)
        token = _current_account.set(account)
        try:
            yield
        finally:
            _current_account.reset(token)

    def client(self, service: str, region: str) -> Any:
        return self.session.client(service, region)

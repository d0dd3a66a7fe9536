"""The emulator's IAM enforcement, for the tests that run ircli with only `ircli policy`.

moto checks every request against IAM once told to (``/moto-api/reset-auth``): a test seeds
its scenario while it does not, creates a user holding only the policy under test, switches
enforcement on and runs ircli with that user's keys. ``enforcement_fixture()`` gives a test
module its ``enforced`` fixture (a fixture is found by the name it is bound to in the module,
so each module binds its own and no conftest is needed).
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

# reset-auth takes how many more requests go through unchecked: enough to seed a scenario, and
# a count no test reaches for leaving the server open to the next test.
SEEDING = 1_000_000
OPEN = 1_000_000_000


def reset_auth(endpoint: str, unchecked: int) -> None:
    urllib.request.urlopen(urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth", data=str(unchecked).encode(), method="POST",
        headers={"Content-Type": "text/plain"})).read()


@dataclass
class Enforcement:
    """Switches the emulator's IAM checks on (every call from now on) and off (to look)."""

    endpoint: str

    def on(self) -> None:
        reset_auth(self.endpoint, 0)

    def off(self) -> None:
        reset_auth(self.endpoint, SEEDING)


def enforcement_fixture() -> Callable[..., Iterator[Enforcement]]:
    """A module's ``enforced`` fixture: checks off for seeding, the server left open after."""

    @pytest.fixture
    def enforced(endpoint: str) -> Iterator[Enforcement]:
        reset_auth(endpoint, SEEDING)
        yield Enforcement(endpoint)
        reset_auth(endpoint, OPEN)

    return enforced


def user_with(iam: Any, name: str, policy: dict[str, Any]) -> dict[str, str]:
    """Create user ``name`` holding only ``policy``; its keys as environment variables."""
    iam.create_user(UserName=name)
    arn = iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(policy))["Policy"]["Arn"]
    iam.attach_user_policy(UserName=name, PolicyArn=arn)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"AWS_ACCESS_KEY_ID": key["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}

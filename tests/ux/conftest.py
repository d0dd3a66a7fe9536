"""The collect lab (an instance, an evidence bucket, the agent substitute) for these tests."""

from tests.collect.conftest import lab  # noqa: F401 - shared fixture
from tests.evidence.conftest import cli  # noqa: F401 - shared fixture
from tests.identity.conftest import alice, iam  # noqa: F401 - shared fixture
from tests.runbooks.conftest import network  # noqa: F401 - shared fixture

"""Fixtures the hostile-input tests borrow: the collect lab with its agent substitute, the
CLI runner, the runbook collect stand-in and the CLI clock."""

from tests.collect.conftest import contain_lab, lab  # noqa: F401 - fixtures
from tests.evidence.conftest import cli  # noqa: F401 - fixture
from tests.runbooks.conftest import cli_clock, collect_stand_in  # noqa: F401 - fixtures

"""Fixtures the hostile-input tests borrow: the collect lab with its agent substitute, the
CLI runner and evidence bucket, the runbook collect stand-in, the CLI clock, a network."""

from tests.collect.conftest import contain_lab, lab  # noqa: F401 - fixtures
from tests.evidence.conftest import cli, evidence_bucket  # noqa: F401 - fixtures
from tests.runbooks.conftest import collect_stand_in, network  # noqa: F401 - fixtures

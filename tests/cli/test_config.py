"""The config file on Python 3.10 (tomli) and 3.11+ (tomllib): the same TOML, the same errors.

The 3.10 branch is forced on this interpreter (``_PYTHON = (3, 10)``) with ``tomllib`` made
unimportable, so the test proves the branch reads with tomli and nothing else.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ircli.core import config
from ircli.core.errors import InvalidInput

FULL_TOML = """# beyond the old hand-written subset: arrays, inline tables, dotted keys, escapes
[evidence]
bucket = "acme-ir-evidence"
[runbooks]
dir = 'C:\\Users\\ir\\runbooks'
[output]
format = "yaml"
[extra]
regions = ["us-east-1", "eu-west-1"]
limits = { hours = 24, force = false }
site.name = "dc\\u00e9"
"""


@pytest.fixture(params=[(3, 10), (3, 11)], ids=["py310-tomli", "py311-tomllib"])
def python(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> tuple[int, int]:
    version: tuple[int, int] = request.param
    if version >= (3, 11) > sys.version_info:
        pytest.skip("tomllib is in the standard library from Python 3.11")
    monkeypatch.setattr(config, "_PYTHON", version)
    hidden = "tomllib" if version < (3, 11) else "tomli"
    monkeypatch.setitem(sys.modules, hidden, None)  # importing it now fails
    return version


def test_reads_full_toml(python: tuple[int, int], tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(FULL_TOML)
    data = config.load_config(path)
    assert data["evidence"]["bucket"] == "acme-ir-evidence"
    assert data["runbooks"]["dir"] == "C:\\Users\\ir\\runbooks"
    assert data["extra"] == {"regions": ["us-east-1", "eu-west-1"],
                             "limits": {"hours": 24, "force": False},
                             "site": {"name": "dc\u00e9"}}


def test_the_310_branch_is_tomli(python: tuple[int, int]) -> None:
    parser = config.toml_parser(python)
    assert parser.__name__ == ("tomli" if python < (3, 11) else "tomllib")


def test_invalid_toml_is_one_sentence_with_the_file(python: tuple[int, int],
                                                    tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[evidence]\nbucket = "unterminated\n')
    with pytest.raises(InvalidInput) as exc:
        config.load_config(path)
    assert str(path) in exc.value.message and "not valid TOML" in exc.value.message
    assert exc.value.remediation


def test_output_default_from_the_config(python: tuple[int, int], aws_env: Path) -> None:
    aws_env.mkdir(parents=True, exist_ok=True)
    (aws_env / "config.toml").write_text(FULL_TOML)
    value, source = config.configured_output()
    assert value == "yaml" and "[output] format" in source


def test_no_config_file_is_no_settings(tmp_path: Path) -> None:
    assert config.load_config(tmp_path / "absent.toml") == {}

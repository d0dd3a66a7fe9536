"""Installs anywhere: a `pip install --target DIR` (a Lambda deployment package's layout)
carries the runbooks and the SSM documents, and ircli finds them there.

The source is copied to tmp_path first, so the build writes nothing into the repository and
parallel runs do not share a build directory. Slow-ish (one local build, ~10 s), no network:
`--no-build-isolation` builds with the venv's setuptools and `--no-deps` takes the deps from it.
"""

from __future__ import annotations

import configparser
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SOURCES = ("setup.cfg", "pyproject.toml", "MANIFEST.in", "README.md")
TREES = ("ircli", "runbooks", "ssm_documents")


def _copy_source(dest: Path) -> Path:
    dest.mkdir()
    for name in SOURCES:
        shutil.copy2(REPO / name, dest / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in TREES:
        shutil.copytree(REPO / name, dest / name, ignore=ignore)
    return dest


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("install")
    source = _copy_source(base / "src")
    target = base / "lambda" / "package"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--no-index", "--target", str(target), str(source)],
                   check=True, capture_output=True, timeout=180, cwd=base)
    return target


def _ircli(target: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m ircli ARGS` with only DIR on PYTHONPATH (the deps come from the venv), run
    from a directory that is not the repository."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IRCLI_")}
    env["PYTHONPATH"] = str(target)
    return subprocess.run([sys.executable, "-m", "ircli", *args], capture_output=True,
                          text=True, env=env, cwd=target.parent, timeout=120)


@pytest.mark.slow
def test_target_install_lists_its_runbooks(target: Path) -> None:
    proc = _ircli(target, "runbook", "list", "-o", "json")
    assert proc.returncode == 0, proc.stderr
    runbooks = json.loads(proc.stdout)["runbooks"]
    assert {r["name"] for r in runbooks} >= {"ec2-compromise", "iam-key-compromise",
                                             "ssh-brute-force", "crypto-mining"}
    data = target / "ircli" / "data" / "runbooks"
    assert all(Path(r["file"]).parent == data for r in runbooks), runbooks
    assert all(r["valid"] for r in runbooks)


@pytest.mark.slow
def test_target_install_validates_its_ssm_documents(target: Path) -> None:
    proc = _ircli(target, "ssm-docs", "validate", "-o", "json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["ok"] is True
    names = {d["name"] for d in report["documents"]}
    assert names == {"ircli-linux-live-response", "ircli-windows-live-response"}
    data = target / "ircli" / "data" / "ssm_documents"
    assert all(Path(d["path"]).parent == data for d in report["documents"])


def test_setup_cfg_names_every_package() -> None:
    """An `ircli/…/__init__.py` missing from setup.cfg would not be installed at all."""
    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg")
    declared = set(config["options"]["packages"].split())
    on_disk = {".".join(p.parent.relative_to(REPO).parts)
               for p in (REPO / "ircli").rglob("__init__.py")}
    mapped = {line.split("=")[0].strip()
              for line in config["options"]["package_dir"].strip().splitlines()}
    assert declared == on_disk | mapped
    for line in config["options"]["package_dir"].strip().splitlines():
        package, directory = (part.strip() for part in line.split("="))
        assert (REPO / directory).is_dir(), package

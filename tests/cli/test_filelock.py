"""The case lock on POSIX (fcntl) and on Windows (msvcrt, simulated here: this runs on Linux).

The Windows simulation hides ``fcntl`` (``sys.modules['fcntl'] = None`` makes its import fail,
as on Windows) and supplies a small ``msvcrt`` stand-in with the documented semantics of
``msvcrt.locking``: ``LK_NBLCK`` locks the bytes or raises OSError (EACCES) at once when another
handle holds them; ``LK_UNLCK`` releases them. Real Windows is not tested here (see README).
"""

from __future__ import annotations

import errno
import importlib.util
import os
import subprocess
import sys
import types
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

from ircli.core import case as case_module
from ircli.core.case import open_case
from ircli.core.errors import UserError
from ircli.core.filelock import lock, unlock

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)

FAKE_MSVCRT = '''
import errno, os
LK_UNLCK, LK_LOCK, LK_NBLCK, LK_RLCK, LK_NBRLCK = 0, 1, 2, 3, 4
_held = {}  # (device, inode, offset) -> the fd holding it

def locking(fd, mode, nbytes):
    st = os.fstat(fd)
    key = (st.st_dev, st.st_ino, os.lseek(fd, 0, os.SEEK_CUR))
    holder = _held.get(key)
    if mode == LK_NBLCK:
        if holder is not None and holder != fd:
            raise OSError(errno.EACCES, "Permission denied")
        _held[key] = fd
    elif mode == LK_UNLCK:
        if holder != fd:
            raise OSError(errno.EACCES, "Permission denied")
        del _held[key]
    else:
        raise NotImplementedError(mode)
'''


def _fake_msvcrt() -> types.ModuleType:
    module = types.ModuleType("msvcrt")
    exec(FAKE_MSVCRT, module.__dict__)
    return module


@pytest.fixture
def windows_filelock(monkeypatch: pytest.MonkeyPatch) -> Iterator[types.ModuleType]:
    """ircli.core.filelock imported as on Windows (no fcntl), under a name of its own."""
    monkeypatch.setitem(sys.modules, "fcntl", None)
    monkeypatch.setitem(sys.modules, "msvcrt", _fake_msvcrt())
    spec = importlib.util.spec_from_file_location(
        "ircli_filelock_on_windows", REPO / "ircli" / "core" / "filelock.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module


def test_posix_second_holder_is_refused_until_the_first_lets_go(tmp_path: Path) -> None:
    path = tmp_path / ".lock"
    with open(path, "w") as first, open(path, "w") as second:
        lock(first)
        with pytest.raises(BlockingIOError):
            lock(second)
        unlock(first)
        lock(second)


def test_posix_case_lock_refuses_a_second_run_on_the_same_case() -> None:
    case = open_case("ir-lock-posix", NOW)
    with (case.locked(), pytest.raises(UserError, match="Another ircli process"),
          open_case("ir-lock-posix", NOW).locked()):
        pass
    with case.locked():  # released after the block
        pass


def test_windows_lock_has_no_fcntl_and_refuses_a_second_holder(
        windows_filelock: types.ModuleType, tmp_path: Path) -> None:
    assert windows_filelock.fcntl is None
    path = tmp_path / ".lock"
    with open(path, "w") as first, open(path, "w") as second:
        windows_filelock.lock(first)
        with pytest.raises(BlockingIOError):
            windows_filelock.lock(second)
        windows_filelock.unlock(first)
        windows_filelock.lock(second)
        windows_filelock.unlock(second)
        windows_filelock.unlock(first)  # not held by it: nothing to release, no error


def test_windows_case_lock_refuses_a_second_run(windows_filelock: types.ModuleType,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(case_module, "lock", windows_filelock.lock)
    monkeypatch.setattr(case_module, "unlock", windows_filelock.unlock)
    case = open_case("ir-lock-windows", NOW)
    with (case.locked(), pytest.raises(UserError, match="Another ircli process"),
          open_case("ir-lock-windows", NOW).locked()):
        pass
    with case.locked():
        pass


def test_windows_lock_passes_other_errors_on(windows_filelock: types.ModuleType,
                                             tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(fd: int, mode: int, nbytes: int) -> None:
        raise OSError(errno.EBADF, "Bad file descriptor")

    monkeypatch.setattr(windows_filelock.msvcrt, "locking", broken)
    with open(tmp_path / ".lock", "w") as fh, pytest.raises(OSError) as exc:
        windows_filelock.lock(fh)
    assert not isinstance(exc.value, BlockingIOError)


def test_every_ircli_module_imports_without_fcntl(tmp_path: Path) -> None:
    """As on Windows: no fcntl, then import every module of ircli. The msvcrt stand-in is
    there only while the lock module is imported (the standard library would take it for
    Windows' own and look for the rest of Windows)."""
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "msvcrt.py").write_text(FAKE_MSVCRT)
    code = """
import importlib, pkgutil, sys
sys.modules["fcntl"] = None
import ircli
import ircli.core.filelock
del sys.modules["msvcrt"]
sys.path.remove(sys.argv[1])
names = [m.name for m in pkgutil.walk_packages(ircli.__path__, "ircli.")
         if m.name != "ircli.__main__" and not m.name.startswith("ircli.data.")]
for name in names:
    importlib.import_module(name)
import ircli.core.filelock as f
assert f.fcntl is None and f.msvcrt.__file__.endswith("msvcrt.py")
print(len(names))
"""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(fake)])}
    proc = subprocess.run([sys.executable, "-c", code, str(fake)], capture_output=True,
                          text=True,
                          env=env, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout.split()[-1]) > 50

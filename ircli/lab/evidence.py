"""What a collected Linux archive shows, in sentences: for the demo and the tabletop score.

Reads only the collector's own tables (process table, socket table, persistence and /etc
copies, authorized_keys, package verification, key findings) from the archive, bounded per
member. Everything in the archive was written by the host, so it is treated as data: values
are quoted back, never interpreted.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path

from ircli.lab.planted import HostScenario

MEMBER_LIMIT = 4 * 1024 * 1024
_WANTED = ("system/hostname.txt", "processes/proc_table.tsv", "sockets/sockets_proc.tsv",
           "integrity/dpkg_verify_system.txt", "keys/no_passphrase.tsv",
           "findings/hidden.tsv", "findings/immutable_append.txt")


@dataclass(frozen=True)
class Shown:
    """One thing the evidence shows (``kind``: process, persistence, key, …); ``text`` has
    every control character of the host's data shown escaped (never sent to a terminal)."""

    kind: str
    text: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", plain(self.text))


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def plain(text: str) -> str:
    """Host-written text made safe to print: C0/C1 controls and DEL as \\xNN."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def read_members(archive: Path | bytes) -> tuple[dict[str, bytes], set[str]]:
    """The small text members the analysis needs, and every member's name."""
    from ircli.liveresponse.result import open_archive

    files: dict[str, bytes] = {}
    names: set[str] = set()
    with open_archive(archive) as tar:
        for member in tar:
            names.add(member.name)
            if not member.isfile() or member.size > MEMBER_LIMIT or not _wanted(member.name):
                continue
            f = tar.extractfile(member)
            if f is not None:
                files[member.name] = f.read()
    return files, names


def _wanted(name: str) -> bool:
    return name in _WANTED or (
        name.startswith(("persistence/", "etc/files/")) and (
            "/cron" in name or "/systemd/system/" in name or name.endswith(
                ("/authorized_keys", "/authorized_keys2"))))


def _rows(files: dict[str, bytes], name: str) -> list[list[str]]:
    text = files.get(name, b"").decode("utf-8", "replace")
    return [line.split("\t") for line in text.splitlines() if line]


def _public(endpoint: str) -> bool:
    host = endpoint.rsplit(":", 1)[0].strip("[]")
    try:
        return ipaddress.ip_address(host).is_global
    except ValueError:
        return False


def fingerprint(key_line: str) -> str | None:
    """OpenSSH's SHA256 fingerprint of an authorized_keys line's key blob."""
    for part in key_line.split():
        if part.startswith("AAAA"):
            try:
                blob = base64.b64decode(part, validate=True)
            except ValueError:
                return None
            digest = base64.b64encode(hashlib.sha256(blob).digest()).decode()
            return "SHA256:" + digest.rstrip("=")
    return None


def what_it_shows(archive: Path | bytes, scenario: HostScenario | None = None) -> list[Shown]:
    """Sentences for what the archive holds: beaconing processes, their persistence, added
    keys, replaced binaries, recovered executables, keys without a passphrase."""
    files, names = read_members(archive)
    shown: list[Shown] = []
    procs = {r[0]: r for r in _rows(files, "processes/proc_table.tsv")[1:] if len(r) >= 7}
    beacons: list[tuple[str, str, str]] = []  # pid, name, remote
    for row in _rows(files, "sockets/sockets_proc.tsv")[1:]:
        if len(row) >= 7 and row[0].startswith("tcp") and row[3] == "ESTABLISHED" and \
                _public(row[2]) and row[6]:
            pid, _, comm = row[6].split(",")[0].partition("/")
            if (pid, comm, row[2]) not in beacons:
                beacons.append((pid, comm, row[2]))
    if scenario is not None and scenario.c2 is not None:
        want = f"{scenario.c2[0]}:{scenario.c2[1]}"
        beacons = [b for b in beacons if b[2] == want]
    indicators: set[str] = set()
    for pid, comm, remote in beacons:
        exe = procs.get(pid, ["", "", "", "", "", ""])[5]
        shown.append(Shown("process", f"the process {comm} (pid {pid}, image {exe or '?'}) "
                                      f"beaconing to {remote}"))
        indicators.update({comm, remote.rsplit(":", 1)[0]})
        if exe:
            indicators.add(exe.removesuffix(" (deleted)").rsplit("/", 1)[-1])
        if f"processes/deleted_exe/{pid}.bin" in names:
            image = exe.removesuffix(" (deleted)")
            shown.append(Shown("deleted_exe", f"its deleted executable {image}, recovered "
                                              f"through /proc/{pid}/exe"))
    indicators.discard("")
    seen: set[str] = set()
    for name in sorted(files):
        if not name.startswith(("persistence/", "etc/files/")) or "authorized_keys" in name:
            continue
        text = files[name].decode("utf-8", "replace")
        path = "/" + name.split("/", 2)[2]
        if path in seen or not any(i in text or i in path for i in indicators):
            continue
        seen.add(path)
        kind = "its cron entry" if "/cron" in path else "its systemd unit"
        shown.append(Shown("persistence", f"{kind} {path}"))
    for name in sorted(files):
        if not name.endswith(("/authorized_keys", "/authorized_keys2")) or \
                not name.startswith("persistence/"):
            continue
        user = "root" if "/root/.ssh/" in name else name.split("/home/")[-1].split("/")[0]
        for line in files[name].decode("utf-8", "replace").splitlines():
            comment = line.split()[-1] if len(line.split()) >= 3 else ""
            flagged = any(i in line for i in indicators) or bool(
                scenario and scenario.attacker_key_comment and
                scenario.attacker_key_comment in line)
            if flagged:
                shown.append(Shown("key", f"the key added for {user} ({comment}, "
                                          f"{fingerprint(line) or 'unparsable key'})"))
    for row in _rows(files, "integrity/dpkg_verify_system.txt"):
        if row and row[0].endswith(": FAILED"):
            path = "/" + row[0].removesuffix(": FAILED")
            shown.append(Shown("replaced_binary", f"a replaced packaged file {path} (its "
                                                  "digest differs from the package database)"))
    for row in _rows(files, "keys/no_passphrase.tsv"):
        if len(row) >= 3:
            shown.append(Shown("nopass_key", f"a private key without a passphrase at {row[0]} "
                                             f"({row[2]}; reported by fingerprint, not copied)"))
    return shown

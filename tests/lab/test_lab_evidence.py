"""What a collected archive shows (ircli.lab.evidence), on small archives built here.

The archive is host-written: a hostile host names its process and its files as it likes, so
the sentences quote them and never depend on markup or on the host telling the truth.
"""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile

from ircli.lab.evidence import fingerprint, what_it_shows
from ircli.lab.scenarios import HOSTS

KEY_BLOB = base64.b64encode(b"\x00\x00\x00\x0bssh-ed25519" + bytes(36)).decode()


def _archive(files: dict[str, str]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _host(comm: str = "kworkerd", remote: str = "185.220.101.66:443") -> dict[str, str]:
    return {
        "processes/proc_table.tsv": "pid\tppid\tuid\tstate\tcomm\texe\tcmdline\n"
                                    f"143\t1\t0\tS\t{comm}\t/tmp/kworkerd (deleted)\t{comm}\n"
                                    "7\t1\t0\tS\tsshd\t/usr/sbin/sshd\tsshd\n",
        "sockets/sockets_proc.tsv": "proto\tlocal\tremote\tstate\tuid\tinode\tpids\n"
                                    f"tcp\t10.0.0.5:36334\t{remote}\tESTABLISHED\t0\t1\t143/{comm}\n"
                                    "tcp\t10.0.0.5:22\t10.0.0.9:5000\tESTABLISHED\t0\t2\t7/sshd\n",
        "processes/deleted_exe/143.bin": "\x7fELF",
        "persistence/files/etc/cron.d/kworkerd": "*/5 * * * * root /tmp/kworkerd\n",
        "persistence/files/etc/cron.d/logrotate": "0 0 * * * root logrotate\n",
        "persistence/homes/root/.ssh/authorized_keys":
            f"ssh-ed25519 {KEY_BLOB} admin@corp\nssh-ed25519 {KEY_BLOB} kworkerd@185.220.101.66\n",
        "integrity/dpkg_verify_system.txt": "usr/bin/top: FAILED\n",
        "keys/no_passphrase.tsv": "/root/.ssh/id_ed25519\tnone\t256 SHA256:abc root@web\troot\n",
    }


def test_the_compromise_is_told_in_sentences() -> None:
    shown = what_it_shows(_archive(_host()), HOSTS["web-compromise"])
    kinds = {s.kind: s.text for s in shown}
    assert kinds["process"] == ("the process kworkerd (pid 143, image /tmp/kworkerd "
                                "(deleted)) beaconing to 185.220.101.66:443")
    assert "recovered through /proc/143/exe" in kinds["deleted_exe"]
    assert [s.text for s in shown if s.kind == "persistence"] == [
        "its cron entry /etc/cron.d/kworkerd"], "only the entry that names the implant"
    [key] = [s.text for s in shown if s.kind == "key"]
    assert key.startswith("the key added for root (kworkerd@185.220.101.66, SHA256:")
    assert "admin@corp" not in key
    assert "/usr/bin/top" in kinds["replaced_binary"]
    assert "not copied" in kinds["nopass_key"]


def test_private_connections_and_other_c2s_are_not_called_beacons() -> None:
    shown = what_it_shows(_archive(_host(remote="203.0.113.9:443")), HOSTS["web-compromise"])
    assert [s for s in shown if s.kind == "process"] == [], "not the scenario's C2"
    generic = what_it_shows(_archive(_host(remote="10.1.2.3:443")))
    assert [s for s in generic if s.kind == "process"] == [], "a private peer is no beacon"


def test_hostile_names_stay_plain_text() -> None:
    shown = what_it_shows(_archive(_host(comm="[bold red]x[/] \x1b]0;pwn\x07")))
    [process] = [s.text for s in shown if s.kind == "process"]
    assert "[bold red]x[/]" in process, "quoted back as data; the CLI prints it without markup"
    assert "\x1b" not in process and "\x07" not in process and "\\x1b]0;pwn\\x07" in process


def test_fingerprint_matches_openssh() -> None:
    digest = base64.b64encode(hashlib.sha256(base64.b64decode(KEY_BLOB)).digest()).decode()
    assert fingerprint(f"ssh-ed25519 {KEY_BLOB} c") == "SHA256:" + digest.rstrip("=")
    assert fingerprint("no key here") is None


def test_an_empty_archive_shows_nothing() -> None:
    assert what_it_shows(_archive({"collection.log": ""})) == []

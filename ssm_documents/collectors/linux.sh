# ircli live-response collector for Linux. POSIX sh (the SSM agent runs `sh _script.sh`).
# Contract: stdout is exactly one compact JSON result line; everything else goes to files.
# Exit codes: 0 complete, 2 partial, 3 upload failed (archive kept), 4 fatal.
# It never exits 194/3010/168/169 (SSM agent reboot/special codes) and installs nothing.
# Test hook (env): IRCLI_COLLECTOR_TEST_HANG_STEP=<section> makes that section sleep past
# its budget; the per-step budget override is the StepTimeoutSeconds document parameter.
unalias -a 2>/dev/null
unset LD_PRELOAD LD_LIBRARY_PATH LD_AUDIT BASH_ENV ENV CDPATH GLOBIGNORE 2>/dev/null
IR_TAB=$(printf '\t')
IFS="$(printf ' \t\nx')"; IFS=${IFS%x}
LC_ALL=C; LANG=C; export LC_ALL LANG
PATH=/usr/sbin:/usr/bin:/sbin:/bin:/usr/local/sbin:/usr/local/bin; export PATH
umask 077
IR_VERSION=1.1.0
# Parameters: the SSM agent substitutes the double-brace placeholders; UploadUrl also arrives
# as the env var SSM_UploadUrl (interpolationType ENV_VAR). The URL carries the responder's
# key id and session token, and /proc/*/environ is collected: re-exec this script without it,
# handing the URL over on fd 9 (a here-document), so no environment ever holds it.
if [ -n "${SSM_UploadUrl+x}" ] && [ -z "${IR_URL_FD:-}" ] && [ -f "$0" ] && [ -r "$0" ] \
    && [ -x /usr/bin/env ]; then
  exec /usr/bin/env -u SSM_UploadUrl IR_URL_FD=9 /bin/sh "$0" 9<<IRCLI_URL_EOF
$SSM_UploadUrl
IRCLI_URL_EOF
fi
IR_URL_HOW=fd
if [ "${IR_URL_FD:-}" = 9 ]; then IFS= read -r IR_URL <&9; exec 9<&-
elif [ -n "${SSM_UploadUrl+x}" ]; then IR_URL=$SSM_UploadUrl; IR_URL_HOW=env_kept
else IR_URL="{{ UploadUrl }}"; IR_URL_HOW=text; fi
unset SSM_UploadUrl IR_URL_FD
IR_CASE="{{ CaseId }}"
IR_TIMEOUT="{{ TimeoutSeconds }}"
IR_TOTAL_MB="{{ MaxTotalMB }}"
IR_FILE_MB="{{ MaxFileMB }}"
IR_MEMORY="{{ IncludeMemory }}"
IR_STEP_TIMEOUT="{{ StepTimeoutSeconds }}"
IR_WANT="{{ Sections }}"
IR_SECTIONS="memory system processes process_detail sockets network_config sessions kernel system_state open_files containers temp_files storage filesystem findings keys persistence etc packages integrity user_activity logs"

ir_fatal() { # print the fatal result line on the real stdout and exit 4
  msg=$(printf '%s' "$1" | tr -d '"\\' | tr '\n\t' '  ')
  printf '{"status":"fatal","exit_code":4,"error":"%s","collector_version":"%s"}\n' \
    "$msg" "$IR_VERSION" >&3
  [ -n "$IR_SCRATCH" ] && [ -d "$IR_SCRATCH" ] && /bin/rm -rf "$IR_SCRATCH"
  exit 4
}
exec 3>&1 1>/dev/null
IR_SCRATCH=
for v in "$IR_TIMEOUT" "$IR_TOTAL_MB" "$IR_FILE_MB" "$IR_STEP_TIMEOUT"; do
  case $v in ''|*[!0-9]*) ir_fatal "numeric parameter expected, got: $v";; esac
done
case $IR_MEMORY in true|false) ;; *) ir_fatal "IncludeMemory must be true or false";; esac
case $IR_URL in http://*|https://*) ;; *) ir_fatal "UploadUrl must be an http(s) URL";; esac
case $IR_CASE in ''|*[!A-Za-z0-9._-]*) ir_fatal "CaseId has unexpected characters";; esac
IR_T0=$(date +%s)
IR_DEADLINE_HARD=$((IR_T0 + IR_TIMEOUT - 5))
IR_RESERVE=$((IR_TIMEOUT / 5))
[ "$IR_RESERVE" -lt 15 ] && IR_RESERVE=15
[ "$IR_RESERVE" -gt 600 ] && IR_RESERVE=600
IR_DEADLINE=$((IR_T0 + IR_TIMEOUT - IR_RESERVE))
# Scratch: TMPDIR when set (a sandbox may redirect it), else tmpfs /dev/shm, else /tmp.
IR_BASE=
if [ -n "$TMPDIR" ] && [ -d "$TMPDIR" ] && [ -w "$TMPDIR" ]; then IR_BASE=$TMPDIR
elif [ -d /dev/shm ] && [ -w /dev/shm ]; then IR_BASE=/dev/shm
else IR_BASE=/tmp; fi
case $IR_BASE in /*) ;; *) IR_BASE=/tmp;; esac
IR_SCRATCH=$(mktemp -d "$IR_BASE/ircli-lr.XXXXXXXX") || ir_fatal "cannot create scratch dir"
IR_OUT=$IR_SCRATCH/out; IR_WORK=$IR_SCRATCH/work; IR_LIB=$IR_SCRATCH/lib.sh
mkdir -p "$IR_OUT/collector" "$IR_WORK" || ir_fatal "cannot create scratch subdirs"
exec 1>>"$IR_WORK/main.out" 2>>"$IR_WORK/main.err"
trap 'ir_fatal "terminated by signal"' HUP INT TERM
IR_TOTAL_CAP=$((IR_TOTAL_MB * 1048576)); IR_FILE_CAP=$((IR_FILE_MB * 1048576))
IR_NL='
'
IR_HOST=$(cat /proc/sys/kernel/hostname 2>/dev/null || echo unknown)
IR_HOST=$(printf '%s' "$IR_HOST" | tr -c 'A-Za-z0-9._-' '_')
export IR_TAB IR_SCRATCH IR_OUT IR_WORK IR_LIB IR_TOTAL_CAP IR_FILE_CAP IR_NL IR_MEMORY IR_CASE IR_HOST IR_DEADLINE

cat > "$IR_LIB" <<'IRCLI_LIB_EOF'
# Helpers and sections, sourced by the main script and by every budgeted step child.
ir_tool() { # absolute path of a host tool from fixed system dirs; records it for hashing
  for _d in /usr/sbin /usr/bin /sbin /bin /usr/local/sbin /usr/local/bin; do
    if [ -x "$_d/$1" ] && [ ! -d "$_d/$1" ]; then
      printf '%s\n' "$_d/$1" >> "$IR_WORK/tools.used"; printf '%s\n' "$_d/$1"; return 0
    fi
  done
  return 1
}
ir_ms() { _m=$(date +%s%3N 2>/dev/null); case $_m in *[!0-9]*|'') _m=$(($(date +%s) * 1000));; esac; echo "$_m"; }
ir_iso() { date -u +%Y-%m-%dT%H:%M:%SZ; }
IR_AWKJ='function j(s,  i,c,o,n){o="";n=length(s);for(i=1;i<=n;i++){c=substr(s,i,1);
if(c=="\\")o=o "\\\\";else if(c=="\"")o=o "\\\"";else if(c=="\t")o=o "\\t";else if(c=="\n")o=o "\\n";
else if(c<" ")o=o "?";else o=o c}return "\"" o "\""}'
ir_jstr() { awk "$IR_AWKJ"'BEGIN{ORS=""} {l=l (NR>1?"\n":"") $0} END{print j(l)}'; }
ir_cmd() { # ir_cmd OUTFILE TOOL ARGS... : capped stdout to $IR_D/OUTFILE, stderr to step log
  _f=$1; shift
  _t=$(ir_tool "$1") || { printf '%s\tmissing\t%s\n' "$IR_STEP" "$1" >> "$IR_WORK/commands.tsv"; return 127; }
  shift
  mkdir -p "$(dirname "$IR_D/$_f")"
  _s=$(ir_ms)
  { "$_t" "$@" 2>>"$IR_ERR" </dev/null; echo $? > "$IR_WORK/rc.$$"; } | head -c "$IR_FILE_CAP" > "$IR_D/$_f"
  _rc=$(cat "$IR_WORK/rc.$$" 2>/dev/null); _b=$(wc -c < "$IR_D/$_f")
  printf '%s\t%s\trc=%s\tbytes=%s\tms=%s\t%s\n' "$IR_STEP" "$_f" "$_rc" "$_b" "$(($(ir_ms) - _s))" "$_t $*" >> "$IR_WORK/commands.tsv"
  [ "$_b" -ge "$IR_FILE_CAP" ] && printf '%s\tper-file cap (truncated)\t%s\t%s\n' "$IR_STEP" "$_b" "$IR_STEP/$_f" >> "$IR_WORK/skipped.tsv"
  return "${_rc:-1}"
}
ir_have() { ir_tool "$1" >/dev/null; }
ir_copy() { # ir_copy DEST ROOT... : copy regular files (newest first) under caps; list skips
  _dest=$IR_D/$1; shift; mkdir -p "$_dest"
  _roots=; for _r in "$@"; do [ -e "$_r" ] && _roots=1; done; [ -n "$_roots" ] || return 0
  for _r in "$@"; do [ -e "$_r" ] && printf '%s\n' "$_r"; done > "$IR_WORK/roots.$$"
  while IFS= read -r _r; do
    find -H "$_r" -xdev \( -path "$IR_SCRATCH" -prune \) -o -type f ! -name "*$IR_NL*" -printf '%T@\t%s\t%p\n'
  done < "$IR_WORK/roots.$$" 2>>"$IR_ERR" | sort -t "$IR_TAB" -k1,1nr | awk -F '\t' -v cap="$IR_FILE_CAP" \
    -v rem="$IR_REMAIN" -v skip="$IR_WORK/skipped.tsv" -v usedf="$IR_WORK/used.$$" -v step="$IR_STEP" '
    { p=$0; sub(/^[^\t]*\t[^\t]*\t/, "", p); if (seen[p]++) next; s=$2+0
      if (s > cap) { print step "\tper-file cap\t" s "\t" p >> skip; next }
      if (used + s > rem) { print step "\ttotal cap\t" s "\t" p >> skip; next }
      used += s; print p }
    END { print used+0 > usedf }' > "$IR_WORK/copy.$$"
  ir_drop_secrets "$IR_WORK/copy.$$"
  tar -cf - --hard-dereference --no-recursion --no-unquote --ignore-failed-read -T "$IR_WORK/copy.$$" 2>>"$IR_ERR" \
    | tar -xpf - -C "$_dest" 2>>"$IR_ERR"
  _u=$(cat "$IR_WORK/used.$$" 2>/dev/null); IR_REMAIN=$((IR_REMAIN - ${_u:-0}))
  return 0
}
ir_drop_secrets() { # remove private keys and password hashes from a copy list; list them as skipped
  awk -v skip="$IR_WORK/skipped.tsv" -v step="$IR_STEP" '
    /\/ssh_host_[^\/]*_key$|^\/etc\/g?shadow-?$|\/ssl\/private\/|\/\.ssh\/id_[^\/.]*$/ {
      print step "\tsecret (not copied)\t0\t" $0 >> skip; next } { print }' "$1" > "$1.n"
  tr '\n' '\000' < "$1.n" | xargs -0 grep -l -Z -s -e '-----BEGIN [A-Z0-9 ]*PRIVATE KEY' -- 2>/dev/null \
    | tr '\000' '\n' > "$1.k"
  if [ -s "$1.k" ]; then
    awk -v skip="$IR_WORK/skipped.tsv" -v step="$IR_STEP" 'NR==FNR {k[$0]=1; next}
      ($0 in k) { print step "\tsecret (not copied)\t0\t" $0 >> skip; next } { print }' "$1.k" "$1.n" > "$1"
  else mv "$1.n" "$1"; fi
  rm -f "$1.n" "$1.k"
}
ir_homes() { # unique existing home dirs from passwd plus /root and /home/*
  { awk -F: '{print $6}' /etc/passwd 2>/dev/null; echo /root; for _h in /home/*; do echo "$_h"; done; } \
    | sort -u | while IFS= read -r _h; do
      case $_h in /|''|/proc*|/sys*|/dev*|/nonexistent|/bin|/usr/sbin|/sbin|/usr/bin) continue;; esac
      [ -d "$_h" ] && printf '%s\n' "$_h"; done
}

s_memory() { # optional; uses a pre-staged AVML only, never installs anything
  _a=$(ir_tool avml) || { echo "memory: no AVML binary staged on this host; nothing installed by design" >&2; return 1; }
  "$_a" --compress "$IR_D/memory.lime" 2>>"$IR_ERR" || return 1
}
s_system() {
  { ir_iso; echo "collector_pid=$$ ppid=$PPID version=$IR_VERSION"; cat /proc/uptime; } > "$IR_D/time.txt"
  ir_cmd date_local.txt date; ir_cmd uname.txt uname -a; ir_cmd hostname.txt hostname
  ir_cmd timedatectl.txt timedatectl; ir_cmd id.txt id
  for _f in /etc/os-release /etc/system-release /etc/machine-id /etc/timezone /proc/version /proc/loadavg /proc/meminfo /proc/cpuinfo; do
    [ -r "$_f" ] && cat "$_f" > "$IR_D/$(echo "$_f" | tr / _ | sed 's/^_//')" 2>>"$IR_ERR"; done
  ls -l /etc/localtime > "$IR_D/localtime.txt" 2>>"$IR_ERR"
  return 0
}
s_processes() {
  ir_cmd ps.txt ps -eo pid,ppid,uid,user,lstart,etimes,stat,args -ww
  ir_cmd ps_threads.txt ps -eLo pid,tid,stat,comm
  ls -d /proc/[0-9]* | sed 's|/proc/||' | sort > "$IR_D/proc_pids.txt"
  find /proc/[0-9]*/ -maxdepth 1 \( -name exe -o -name cwd -o -name root \) -printf '%h\t%f\t%l\n' \
    2>/dev/null | sed 's|^/proc/||; s|/\t|\t|' > "$IR_D/proc_links.tsv"
  sed "s|^|$IR_D/pid/|" "$IR_D/proc_pids.txt" | xargs mkdir -p
  : > "$IR_WORK/cmd.$$"
  while IFS= read -r _p; do
    _d=$IR_D/pid/$_p
    cp "/proc/$_p/status" "/proc/$_p/cmdline" "/proc/$_p/environ" "/proc/$_p/cgroup" "/proc/$_p/maps" \
      "/proc/$_p/stat" "/proc/$_p/loginuid" "/proc/$_p/comm" "$_d/" 2>/dev/null
    { printf '%s\t' "$_p"; tr '\000\t\n' '   ' < "$_d/cmdline"; echo; } >> "$IR_WORK/cmd.$$" 2>/dev/null
  done < "$IR_D/proc_pids.txt"
  awk -F '\t' -v d="$IR_D/pid" 'BEGIN{print "pid\tppid\tuid\tstate\tcomm\texe\tcmdline"}
    FILENAME ~ /proc_links/ { if ($2=="exe") e[$1]=$3; next }
    { p=$1; c=$0; sub(/^[^\t]*\t/, "", c); sub(/ +$/, "", c); pp=""; u=""; st=""; n=""; f=d "/" p "/status"
      while ((getline l < f) > 0) { split(l, a, "\t"); if (a[1]=="PPid:") pp=a[2]; else if (a[1]=="Uid:") u=a[2]
        else if (a[1]=="State:") st=substr(a[2],1,1); else if (a[1]=="Name:") n=a[2] }
      close(f); printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p, pp, u, st, n, e[p], c }' \
    "$IR_D/proc_links.tsv" "$IR_WORK/cmd.$$" > "$IR_D/proc_table.tsv"
  # Hidden: in /proc but not in ps, or referenced as a parent but not listed.
  ps -e -o pid= 2>/dev/null | tr -d ' ' | sort > "$IR_WORK/ps_pids.$$"
  { comm -23 "$IR_D/proc_pids.txt" "$IR_WORK/ps_pids.$$" | sed 's/^/in_proc_not_in_ps\t/'
    awk -F '\t' 'NR>1{has[$1]=1; if ($2!="" && $2!="0") par[$2]=1} END{for (q in par) if (!(q in has)) print "parent_not_listed\t" q}' \
      "$IR_D/proc_table.tsv"; } > "$IR_D/hidden_pids.tsv"
  # Deleted or memfd images: recover them (capped 20 MB) before they vanish.
  mkdir -p "$IR_D/deleted_exe"
  awk -F '\t' '$2=="exe" && ($3 ~ / \(deleted\)$/ || $3 ~ /^\/memfd:/) {print $1}' "$IR_D/proc_links.tsv" |
    while IFS= read -r _p; do head -c 20971520 "/proc/$_p/exe" > "$IR_D/deleted_exe/$_p.bin" 2>>"$IR_ERR"; done
  # sha256 of every running image, hashed through /proc/N/exe (works for deleted ones too).
  awk -F '\t' '$2=="exe" && !seen[$3]++ {print "/proc/" $1 "/exe\t" $3}' "$IR_D/proc_links.tsv" > "$IR_WORK/exe.$$"
  cut -f1 "$IR_WORK/exe.$$" | tr '\n' '\000' | xargs -0 sha256sum 2>>"$IR_ERR" > "$IR_WORK/exesum.$$"
  awk -F '\t' 'NR==FNR{t[$1]=$2; next} {h=$1; p=$0; sub(/^[^ ]*  /, "", p); print h "\t" p "\t" t[p]}' \
    "$IR_WORK/exe.$$" "$IR_WORK/exesum.$$" > "$IR_D/exe_sha256.tsv"
  [ -s "$IR_D/proc_table.tsv" ]
}
s_process_detail() { # kernel stacks, children, namespaces, map_files; image strings; deleted images' memory
  grep -H '' /proc/[0-9]*/stack 2>/dev/null | sed 's|^/proc/||; s|/stack:|\t|' | head -c "$IR_FILE_CAP" > "$IR_D/stacks.tsv"
  grep -H '' /proc/[0-9]*/task/[0-9]*/children 2>/dev/null | sed 's|^/proc/\([0-9]*\)/task/[0-9]*/children:|\1\t|' | head -c "$IR_FILE_CAP" > "$IR_D/children.tsv"
  find /proc/[0-9]*/ns -maxdepth 1 -type l -printf '%h\t%f\t%l\n' 2>/dev/null | sed 's|^/proc/||; s|/ns\t|\t|' | head -c "$IR_FILE_CAP" > "$IR_D/namespaces.tsv"
  find /proc/[0-9]*/map_files -maxdepth 1 -type l -printf '%h\t%f\t%l\n' 2>/dev/null | sed 's|^/proc/||; s|/map_files\t|\t|' | head -c "$IR_FILE_CAP" > "$IR_D/map_files.tsv"
  mkdir -p "$IR_D/mounts" "$IR_D/net_unix" "$IR_D/strings" "$IR_D/deleted_memory"
  # Mounts and unix sockets once per mount / network namespace (first process seen in it).
  awk -F '\t' '($2=="mnt" || $2=="net") && !seen[$2 $3]++ { gsub(/[^0-9]/, "", $3); print $2 "\t" $1 "\t" $3 }' \
    "$IR_D/namespaces.tsv" | while IFS="$IR_TAB" read -r _k _p _n; do
      if [ "$_k" = mnt ]; then cat "/proc/$_p/mounts" > "$IR_D/mounts/mnt_$_n.txt" 2>/dev/null
      else cat "/proc/$_p/net/unix" > "$IR_D/net_unix/net_$_n.txt" 2>/dev/null; fi; done
  # Printable strings of each distinct running image (bounded per image and in number).
  find /proc/[0-9]*/ -maxdepth 1 -name exe -printf '%h\t%l\n' 2>/dev/null | sed 's|^/proc/||; s|/\t|\t|' \
    | awk -F '\t' '!seen[$2]++' | head -n 300 > "$IR_WORK/images.$$"
  # Memory of processes whose image is deleted or memfd (readable private and image regions;
  # half of the section's share at most), then strings of each image (the rest).
  _left=$((IR_REMAIN - $(du -sb "$IR_D" | cut -f1))); _mcap=$((_left / 2))
  _dd=$(ir_tool dd) || _dd=
  awk -F '\t' '$2 ~ / \(deleted\)$/ || $2 ~ /^\/memfd:/ {print $1}' "$IR_WORK/images.$$" | { _used=0
  while IFS= read -r _p; do
    [ -n "$_dd" ] || break
    _o=$IR_D/deleted_memory/$_p; mkdir -p "$_o"; cp "/proc/$_p/maps" "$_o/maps.txt" 2>/dev/null; _tot=0
    while read -r _r _pm _x _dv _in _f; do
      case $_pm in r*) ;; *) continue;; esac
      case $_f in '[vvar]'|'[vsyscall]'|'[vvar_vclock]') continue;; esac
      case $_f in ''|'[heap]'|'[stack]'|*' (deleted)'|/memfd:*) ;; *) continue;; esac
      _a=${_r%-*}; _b=${_r#*-}; _len=$(( 0x$_b - 0x$_a ))
      [ "$_len" -gt 16777216 ] && { printf '%s\tregion over 16 MB\t%s\t%s\n' "$IR_STEP" "$_len" "pid $_p $_r" >> "$IR_WORK/skipped.tsv"; continue; }
      [ $((_tot + _len)) -gt 67108864 ] && break
      [ $((_used + _len)) -gt "$_mcap" ] && { printf '%s\tsection share (memory)\t%s\t%s\n' "$IR_STEP" "$_len" "pid $_p $_r" >> "$IR_WORK/skipped.tsv"; break 2; }
      "$_dd" if="/proc/$_p/mem" of="$_o/$_r.bin" bs=4096 skip=$(( 0x$_a / 4096 )) count=$(( _len / 4096 )) 2>/dev/null
      _tot=$((_tot + _len)); _used=$((_used + _len))
    done < "$_o/maps.txt"
  done; }
  _left=$((IR_REMAIN - $(du -sb "$IR_D" | cut -f1)))
  _st=$(ir_tool strings) || _st=
  while IFS="$IR_TAB" read -r _p _e; do
    [ "$_left" -le 0 ] && { printf '%s\tsection share (strings)\t0\t%s\n' "$IR_STEP" "strings of $_e and later images" >> "$IR_WORK/skipped.tsv"; break; }
    _n=$(printf '%s' "$_e" | sed 's|.*/||; s/ (deleted)$/_deleted/' | tr -c 'A-Za-z0-9._-' '_')
    if [ -n "$_st" ]; then "$_st" -a -n 8 "/proc/$_p/exe" 2>/dev/null
    else tr -c '[:print:]' '\n' < "/proc/$_p/exe" 2>/dev/null | grep -E '.{8,}'; fi \
      | head -c 262144 > "$IR_D/strings/${_p}_$_n.txt"
    _left=$((_left - $(wc -c < "$IR_D/strings/${_p}_$_n.txt")))
  done < "$IR_WORK/images.$$"
  [ -s "$IR_D/namespaces.tsv" ]
}
s_sockets() {
  ir_cmd ss_tcp.txt ss -tanpe; ir_cmd ss_udp.txt ss -uanpe; ir_cmd ss_unix.txt ss -xap
  ir_have netstat && ir_cmd netstat.txt netstat -anp
  # /proc fallback that always runs: /proc/net tables joined to socket inodes from the fd walk.
  find /proc/[0-9]*/fd -maxdepth 1 -type l -lname 'socket:*' -printf '%h\t%l\n' 2>/dev/null \
    | sed 's|^/proc/||; s|/fd\tsocket:\[| |; s|\]$||' > "$IR_D/socket_inodes.txt"
  for _f in tcp tcp6 udp udp6 raw raw6 unix packet; do
    [ -r "/proc/net/$_f" ] && cp "/proc/net/$_f" "$IR_D/proc_net_$_f.txt" 2>>"$IR_ERR"; done
  awk -v dir="$IR_D" '
    function h2d(h,  i,n){n=0;h=toupper(h);for(i=1;i<=length(h);i++)n=n*16+index("0123456789ABCDEF",substr(h,i,1))-1;return n}
    function ip4(h){return h2d(substr(h,7,2)) "." h2d(substr(h,5,2)) "." h2d(substr(h,3,2)) "." h2d(substr(h,1,2))}
    function ip6(h,  w,i,o,g){o="";for(w=0;w<4;w++){g=substr(h,w*8+1,8);
      o=o (w?":":"") tolower(substr(g,7,2) substr(g,5,2)) ":" tolower(substr(g,3,2) substr(g,1,2))}return "[" o "]"}
    function addr(a,v6,  p){split(a,p,":");return (v6?ip6(p[1]):ip4(p[1])) ":" h2d(p[2])}
    FILENAME ~ /socket_inodes/ {pid=$1; ino=$2; cf="/proc/" pid "/comm"; cm=""; getline cm < cf; close(cf)
      own[ino]=own[ino] (own[ino]==""?"":",") pid "/" cm; next}
    FNR==1 {next}
    { n=split(FILENAME, fp, "_"); proto=fp[n]; sub(/\.txt$/, "", proto) }
    proto ~ /^(tcp|tcp6|udp|udp6|raw|raw6)$/ { v6=(proto ~ /6$/); st=$4
      if (proto ~ /^tcp/) st=tcps[st]; else if (st=="07") st="UNCONN"; else if (st=="01") st="ESTAB"
      printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", proto, addr($2,v6), addr($3,v6), st, $8, $10, own[$10]; next }
    proto=="unix" { printf "unix\t%s\t-\t%s\t-\t%s\t%s\n", ($8==""?"@anon":$8), $6, $7, own[$7]; next }
    proto=="packet" { printf "packet\tif%s\t-\t-\t%s\t%s\t%s\n", $5, $8, $9, own[$9]; next }
    BEGIN { split("ESTABLISHED SYN_SENT SYN_RECV FIN_WAIT1 FIN_WAIT2 TIME_WAIT CLOSE CLOSE_WAIT LAST_ACK LISTEN CLOSING NEW_SYN_RECV", s, " ")
      for (i=1;i<=12;i++) tcps[sprintf("%02X",i)]=s[i]
      print "proto\tlocal\tremote\tstate\tuid\tinode\tpids" }' \
    "$IR_D/socket_inodes.txt" "$IR_D"/proc_net_*.txt > "$IR_D/sockets_proc.tsv" 2>>"$IR_ERR"
  [ "$(wc -l < "$IR_D/sockets_proc.tsv")" -gt 1 ] || [ -s "$IR_D/ss_tcp.txt" ]
}
s_network_config() {
  ir_cmd ip_addr.txt ip addr; ir_cmd ip_route.txt ip route show table all; ir_cmd ip_neigh.txt ip neigh
  ir_cmd ip_rule.txt ip rule; ir_cmd ip_link.txt ip -s link; ir_cmd ip_netns.txt ip netns list
  ir_cmd iptables.txt iptables-save; ir_cmd ip6tables.txt ip6tables-save; ir_cmd nft.txt nft list ruleset
  for _f in route arp dev if_inet6 ipv6_route; do [ -r "/proc/net/$_f" ] && cat "/proc/net/$_f" > "$IR_D/proc_net_$_f.txt"; done
  ir_copy files /etc/resolv.conf /etc/hosts /etc/nsswitch.conf /etc/hostname /etc/network /etc/netplan \
    /etc/sysconfig/network-scripts /etc/NetworkManager/system-connections /etc/systemd/network
  return 0
}
s_sessions() {
  ir_cmd who.txt who -a; ir_cmd w.txt w; ir_cmd last.txt last -Fiwx; ir_cmd lastb.txt lastb -Fiwx
  ir_cmd loginctl.txt loginctl list-sessions --no-pager
  ir_copy raw /var/run/utmp /run/utmp /var/log/wtmp /var/log/btmp /var/log/lastlog
  return 0
}
s_kernel() {
  ir_cmd uname.txt uname -a; ir_cmd dmesg.txt dmesg -T; ir_cmd lsmod.txt lsmod; ir_cmd lsblk.txt lsblk -f
  for _f in cmdline modules mounts sys/kernel/tainted sys/kernel/modules_disabled sys/kernel/kptr_restrict \
      sys/kernel/yama/ptrace_scope sys/kernel/randomize_va_space self/mountinfo; do
    [ -r "/proc/$_f" ] && cat "/proc/$_f" > "$IR_D/proc_$(echo "$_f" | tr / _).txt" 2>>"$IR_ERR"; done
  # Loadable modules visible in /sys/module but missing from /proc/modules may be hidden.
  awk '{print $1}' /proc/modules 2>/dev/null | sort > "$IR_WORK/pm.$$"
  for _m in /sys/module/*/initstate; do [ -e "$_m" ] && basename "$(dirname "$_m")"; done | sort > "$IR_WORK/sm.$$"
  comm -13 "$IR_WORK/pm.$$" "$IR_WORK/sm.$$" > "$IR_D/modules_sys_not_proc.txt"
  ir_copy files /etc/ld.so.preload /etc/modules /etc/modules-load.d /etc/modprobe.d
  if ir_have bpftool; then ir_cmd bpf_prog.txt bpftool prog list; ir_cmd bpf_map.txt bpftool map list; fi
  [ -s "$IR_D/proc_cmdline.txt" ]
}
s_system_state() { # kernel parameters, audit, MAC, binfmt, core dumps, module parameters, BPF, services, /boot
  ir_cmd sysctl.txt sysctl -a; ir_cmd auditctl_rules.txt auditctl -l; ir_cmd auditctl_status.txt auditctl -s
  ir_cmd sestatus.txt sestatus; ir_cmd aa_status.txt aa-status; ir_cmd runlevel.txt runlevel
  ir_cmd systemd_state.txt systemctl is-system-running; ir_cmd systemd_default.txt systemctl get-default
  ir_cmd systemd_sockets.txt systemctl list-sockets --all --no-pager; ir_cmd systemd_failed.txt systemctl --failed --no-pager
  for _f in /sys/fs/selinux/enforce /sys/kernel/security/apparmor/profiles /proc/sys/kernel/core_pattern \
      /proc/sys/kernel/core_uses_pid /proc/sys/fs/suid_dumpable /proc/sys/kernel/unprivileged_bpf_disabled \
      /proc/sys/kernel/kexec_load_disabled /proc/sys/kernel/sysrq; do
    [ -r "$_f" ] && cat "$_f" > "$IR_D/$(echo "$_f" | tr / _ | sed 's/^_//').txt" 2>>"$IR_ERR"; done
  mkdir -p "$IR_D/binfmt_misc"
  for _f in /proc/sys/fs/binfmt_misc/*; do [ -f "$_f" ] && cat "$_f" > "$IR_D/binfmt_misc/${_f##*/}" 2>/dev/null; done
  find /var/crash /var/lib/systemd/coredump /var/lib/apport/coredump /var/spool/abrt -xdev \
    -printf '%T@\t%s\t%u\t%p\n' > "$IR_D/core_dumps.tsv" 2>/dev/null
  grep -H -s '' /sys/module/*/parameters/* 2>/dev/null | sed 's|^/sys/module/||; s|/parameters/|\t|; s|:|\t|' \
    | head -c "$IR_FILE_CAP" > "$IR_D/module_parameters.tsv"
  find /sys/fs/bpf -printf '%y\t%m\t%u\t%T@\t%p\n' > "$IR_D/bpf_fs.tsv" 2>/dev/null
  find /boot -xdev -printf '%y\t%s\t%T@\t%u\t%p\t%l\n' > "$IR_D/boot_listing.tsv" 2>/dev/null
  set -- /boot/config-*; ir_copy boot "$@" /boot/grub/grub.cfg /boot/grub2/grub.cfg /boot/grub2/grubenv \
    /boot/loader/entries /boot/efi/EFI/*/grub.cfg /etc/default/grub
  [ -s "$IR_D/sysctl.txt" ] || [ -s "$IR_D/proc_sys_kernel_core_pattern.txt" ]
}
s_open_files() {
  find /proc/[0-9]*/fd -maxdepth 1 -type l -printf '%h\t%f\t%l\n' 2>/dev/null \
    | sed 's|^/proc/||; s|/fd\t|\t|' > "$IR_D/proc_fds.tsv"
  grep ' (deleted)$' "$IR_D/proc_fds.tsv" > "$IR_D/deleted_open.tsv"
  if ir_have lsof; then ir_cmd lsof_deleted.txt lsof -nP -b -w +L1; ir_cmd lsof.txt lsof -nP -b -w; fi
  [ -s "$IR_D/proc_fds.tsv" ]
}
s_containers() {
  for _t in docker podman nerdctl; do
    ir_have "$_t" || continue
    ir_cmd "${_t}_ps.txt" "$_t" ps -a --no-trunc
    ir_cmd "${_t}_ids.txt" "$_t" ps -aq
    [ -s "$IR_D/${_t}_ids.txt" ] && ir_cmd "${_t}_inspect.json" "$_t" inspect $(head -n 500 "$IR_D/${_t}_ids.txt")
  done
  ir_have crictl && { ir_cmd crictl_ps.txt crictl ps -a; ir_cmd crictl_pods.txt crictl pods; }
  ir_have ctr && ir_cmd ctr_containers.txt ctr --namespace k8s.io containers list
  return 0
}
s_storage() { # block devices, mounts, LVM / md, firewall managers, network files, NFS exports
  ir_cmd findmnt.txt findmnt -A -o TARGET,SOURCE,FSTYPE,OPTIONS; ir_cmd blkid.txt blkid
  ir_cmd df.txt df -PT -l; ir_cmd pvs.txt pvs; ir_cmd vgs.txt vgs; ir_cmd lvs.txt lvs -a
  ir_cmd mdadm.txt mdadm --detail --scan; [ -r /proc/mdstat ] && cat /proc/mdstat > "$IR_D/proc_mdstat.txt"
  ir_cmd ufw.txt ufw status verbose; ir_cmd firewalld.txt firewall-cmd --list-all-zones
  ir_cmd lsof_net.txt lsof -nP -b -w -i; ir_cmd exportfs.txt exportfs -v
  ir_copy files /etc/fstab /etc/crypttab /etc/exports /etc/exports.d /var/lib/nfs/etab /etc/auto.master /etc/lvm/lvm.conf
  return 0
}
s_temp_files() {
  # Listing and stat first (RFC 3227: record times before reading), then copy small files.
  for _r in /tmp /var/tmp /dev/shm /run; do
    [ -d "$_r" ] && find "$_r" -xdev \( -path "$IR_SCRATCH" -prune \) -o -printf '0|%p|%i|%M|%U|%G|%s|%A@|%T@|%C@|0\n' 2>>"$IR_ERR"
  done | head -c "$IR_FILE_CAP" > "$IR_D/listing.body"
  ir_copy files /tmp /var/tmp /dev/shm /run/log/journal
  return 0
}
s_filesystem() {
  _roots=/
  for _m in /boot /home /tmp /var /var/tmp /opt /srv /root /usr /dev /dev/shm /run; do
    awk -v m="$_m" '$2==m {f=1} END{exit !f}' /proc/self/mounts 2>/dev/null && _roots="$_roots $_m"; done
  # The whole tree, streamed through gzip: the cap applies to compressed bytes (whole file systems fit).
  _cap=$((IR_REMAIN * 3 / 4)); [ "$_cap" -lt "$IR_FILE_CAP" ] && _cap=$IR_FILE_CAP
  set -f; for _r in $_roots; do
    [ -d "$_r" ] && find "$_r" -xdev \( -path "$IR_SCRATCH" -prune \) -o -printf '0|%p|%i|%M|%U|%G|%s|%A@|%T@|%C@|0\n' 2>>"$IR_ERR"
  done | awk -F '|' -v sp="$IR_D/special_perms.tsv" -v cnt="$IR_WORK/body.n" -v hid="$IR_WORK/fs_hidden.tsv" \
    -v unk="$IR_WORK/fs_unknown.tsv" 'BEGIN { FS=":"; while ((getline l < "/etc/passwd") > 0) { split(l, a, ":"); u[a[3]]=1 }
      while ((getline l < "/etc/group") > 0) { split(l, a, ":"); g[a[3]]=1 }; FS="|"
      t["-"]="f"; t["d"]="d"; t["l"]="l"; t["c"]="c"; t["b"]="b"; t["p"]="p"; t["s"]="s" }
    {m=$4; n++; b=$2; sub(/.*\//, "", b)}
    substr(m,4,1) ~ /[sS]/ {print "suid\t" $2 > sp} substr(m,7,1) ~ /[sS]/ {print "sgid\t" $2 > sp}
    substr(m,1,1)!="l" && substr(m,9,1)=="w" && substr(m,10,1)!~/[tT]/ {print "world_writable\t" $2 > sp}
    substr(b,1,1)=="." && $2 ~ /^\/(bin|sbin|usr|lib|lib32|lib64|etc|boot|var|opt|srv|dev|tmp|run)\// {
      print t[substr(m,1,1)] "\t" $7 "\t" $9 "\t" $5 "\t" m "\t" $2 > hid }
    !($5 in u) || !($6 in g) { print $5 "\t" $6 "\t" t[substr(m,1,1)] "\t" $9 "\t" $2 > unk }
    {print} END {print n+0 > cnt}' | gzip -1 | head -c "$_cap" > "$IR_D/bodyfile.txt.gz"; set +f
  : >> "$IR_D/special_perms.tsv"
  echo "entries=$(cat "$IR_WORK/body.n" 2>/dev/null) roots=$_roots" > "$IR_D/bodyfile_info.txt"
  [ "$(wc -c < "$IR_D/bodyfile.txt.gz")" -ge "$_cap" ] && printf '%s\tcap reached (bodyfile truncated)\t%s\t%s\n' \
    "$IR_STEP" "$_cap" "$IR_STEP/bodyfile.txt.gz" >> "$IR_WORK/skipped.tsv"
  { for _d in /usr/local/sbin /usr/local/bin /usr/sbin /usr/bin /sbin /bin; do
      [ -d "$_d" ] && [ ! -L "$_d" ] && find "$_d" -maxdepth 1 -type f -perm /111 -size -"$((IR_FILE_CAP / 1024))"k -print0; done
    for _d in /tmp /var/tmp /dev/shm /root /home; do
      [ -d "$_d" ] && find "$_d" -xdev \( -path "$IR_SCRATCH" -prune \) -o -type f -perm /111 -size -"$((IR_FILE_CAP / 1024))"k -print0; done
  } 2>>"$IR_ERR" | xargs -0 sha256sum 2>>"$IR_ERR" > "$IR_D/executables_sha256.txt"
  [ -s "$IR_D/bodyfile.txt.gz" ]
}
IR_SYSDIRS="/bin /sbin /usr /lib /lib32 /lib64 /etc /boot /var /opt /srv /dev /tmp /run"
IR_ATTRDIRS="/etc /bin /sbin /usr/bin /usr/sbin /usr/local /usr/lib/systemd /lib/systemd /boot /tmp /var/tmp /var/spool /var/www /dev/shm /opt /srv"
s_findings() { # hidden entries in system paths, unknown owners, immutable / append-only, capabilities
  set -f; _roots=; for _r in $IR_SYSDIRS; do [ -d "$_r" ] && [ ! -L "$_r" ] && _roots="$_roots $_r"; done
  if [ -f "$IR_WORK/fs_hidden.tsv" ] || [ -f "$IR_WORK/fs_unknown.tsv" ]; then  # found in the filesystem walk
    echo "type size mtime uid mode path (from the filesystem section's walk)" > "$IR_D/hidden_columns.txt"
    cp "$IR_WORK/fs_hidden.tsv" "$IR_D/hidden.tsv" 2>/dev/null || : > "$IR_D/hidden.tsv"
    cp "$IR_WORK/fs_unknown.tsv" "$IR_D/unknown_owner.tsv" 2>/dev/null || : > "$IR_D/unknown_owner.tsv"
  else
  find $_roots -xdev \( -path "$IR_SCRATCH" -prune \) -o \( \
    \( -name '.*' -fprintf "$IR_D/hidden.tsv" '%y\t%s\t%T@\t%U\t%M\t%p\n' \) , \
    \( \( -nouser -o -nogroup \) -fprintf "$IR_D/unknown_owner.tsv" '%U\t%G\t%y\t%T@\t%p\n' \) \) 2>>"$IR_ERR"
  fi
  # Attributes where attackers set them (binaries, config, persistence, temp, the top of homes).
  _roots=; for _r in $IR_ATTRDIRS; do [ -d "$_r" ] && [ ! -L "$_r" ] && _roots="$_roots $_r"; done
  { find $_roots -xdev \( -path "$IR_SCRATCH" -prune \) -o \( -type f -o -type d \) -print0
    ir_homes | tr '\n' '\000' | xargs -0 -I{} find {} -xdev -maxdepth 3 \( -type f -o -type d \) -print0
  } 2>>"$IR_ERR" > "$IR_WORK/fs_entries.$$"
  set +f
  if _la=$(ir_tool lsattr); then
    xargs -0 "$_la" -d < "$IR_WORK/fs_entries.$$" 2>/dev/null | awk '$1 ~ /[ia]/' > "$IR_D/immutable_append.txt"
    printf '%s\timmutable_append.txt\trc=0\tbytes=%s\tms=0\t%s\n' "$IR_STEP" "$(wc -c < "$IR_D/immutable_append.txt")" "$_la -d" >> "$IR_WORK/commands.tsv"
  fi
  if _gc=$(ir_tool getcap); then xargs -0 "$_gc" < "$IR_WORK/fs_entries.$$" > "$IR_D/capabilities.txt" 2>/dev/null; fi
  rm -f "$IR_WORK/fs_entries.$$"
  [ -f "$IR_D/hidden.tsv" ]
}
s_keys() { # SSH private keys: each tested for an empty passphrase; path and fingerprint only, never content
  _kg=$(ir_tool ssh-keygen) || { echo "keys: ssh-keygen missing; candidates listed only" >&2; _kg=; }
  { ir_homes; echo /etc/ssh; echo /opt; echo /srv; echo /tmp; echo /var/tmp; echo /dev/shm; } | sort -u > "$IR_WORK/keyroots.$$"
  while IFS= read -r _r; do [ -d "$_r" ] && find "$_r" -xdev -maxdepth 4 \( -path "$IR_SCRATCH" -prune \) -o \
      -type f -size -32k -print0 2>/dev/null; done < "$IR_WORK/keyroots.$$" \
    | xargs -0 grep -l -Z -s -e '-----BEGIN [A-Z0-9 ]*PRIVATE KEY' -- 2>/dev/null | tr '\000' '\n' | sort -u > "$IR_WORK/keys.$$"
  printf 'path\tpassphrase\tfingerprint\towner\tmode\tmtime\n' > "$IR_D/private_keys.tsv"
  while IFS= read -r _k; do
    _fp=; _pp=unknown
    if [ -n "$_kg" ]; then
      if "$_kg" -y -P '' -f "$_k" > "$IR_WORK/pub.$$" 2>/dev/null </dev/null; then _pp=none
        _fp=$("$_kg" -l -f "$IR_WORK/pub.$$" 2>/dev/null </dev/null)
      else _pp=set; _fp=$("$_kg" -l -f "$_k" 2>/dev/null </dev/null); fi
      rm -f "$IR_WORK/pub.$$"
    fi
    printf '%s\t%s\t%s\t%s\n' "$_k" "$_pp" "$_fp" "$(find "$_k" -maxdepth 0 -printf '%u\t%m\t%T@')" >> "$IR_D/private_keys.tsv"
  done < "$IR_WORK/keys.$$"
  awk -F '\t' 'NR>1 && $2=="none"' "$IR_D/private_keys.tsv" > "$IR_D/no_passphrase.tsv"
  return 0
}
s_persistence() {
  ir_cmd systemctl_units.txt systemctl list-units --all --no-pager
  ir_cmd systemctl_unit_files.txt systemctl list-unit-files --no-pager
  ir_cmd systemctl_timers.txt systemctl list-timers --all --no-pager
  ir_cmd atq.txt atq
  ir_copy files /etc/systemd /usr/lib/systemd/system /lib/systemd/system /run/systemd/system \
    /etc/crontab /etc/cron.d /etc/cron.hourly /etc/cron.daily /etc/cron.weekly /etc/cron.monthly \
    /etc/anacrontab /var/spool/cron /var/spool/at /var/spool/anacron /etc/rc.local /etc/rc.d/rc.local \
    /etc/init.d /etc/profile /etc/profile.d /etc/bash.bashrc /etc/bashrc /etc/environment /etc/zsh \
    /etc/ld.so.conf /etc/ld.so.conf.d /etc/ld.so.preload /etc/pam.d /etc/security /etc/ssh \
    /etc/sudoers /etc/sudoers.d /etc/passwd /etc/group /etc/udev/rules.d /etc/xdg/autostart \
    /etc/update-motd.d /etc/motd /etc/hosts.allow /etc/hosts.deny
  ir_homes > "$IR_WORK/homes.$$"
  while IFS= read -r _h; do
    ir_copy homes "$_h/.ssh/authorized_keys" "$_h/.ssh/authorized_keys2" "$_h/.ssh/rc" \
      "$_h/.bashrc" "$_h/.bash_profile" "$_h/.bash_login" "$_h/.bash_logout" "$_h/.profile" \
      "$_h/.zshrc" "$_h/.zprofile" "$_h/.config/systemd" "$_h/.config/autostart" "$_h/.local/share/systemd"
  done < "$IR_WORK/homes.$$"
  find /lib/security /lib64/security /usr/lib/security /usr/lib64/security /lib/*-linux-gnu/security \
    /usr/lib/*-linux-gnu/security -maxdepth 1 -type f -print0 2>/dev/null | xargs -0 sha256sum \
    > "$IR_D/pam_modules_sha256.txt" 2>>"$IR_ERR"
  return 0
}
s_packages() {
  ir_have rpm && ir_cmd rpm_qa.tsv rpm -qa --qf '%{NAME}\t%{VERSION}-%{RELEASE}\t%{ARCH}\t%{INSTALLTIME}\t%{VENDOR}\n'
  ir_have dpkg-query && ir_cmd dpkg.tsv dpkg-query -W -f '${Package}\t${Version}\t${Architecture}\t${Status}\n'
  ir_have snap && ir_cmd snap.txt snap list
  return 0
}
s_etc() { # all of /etc (bounded; secrets never copied), password hashes reduced to a yes/no
  ir_copy files /etc
  [ -r /etc/shadow ] && awk -F: '{ s=$2; if (s ~ /^\$/) s="hash"; else if (s=="") s="EMPTY"; print $1 ":" s ":" $3 ":" $4 ":" $5 ":" $8 }' \
    /etc/shadow > "$IR_D/shadow_summary.txt" 2>>"$IR_ERR"
  return 0
}
s_integrity() { # package verification (replaced files), package databases, language package managers
  # First, at once: packaged executables, PAM modules, units and core libraries against the
  # package database's digests. Every package (dpkg -V / rpm -Va) is verified in the background
  # from the end of the filesystem section on (ir_bg_verify); the main script waits for it.
  if _dq=$(ir_tool dpkg-query) && _dp=$(ir_tool dpkg) && [ -d /var/lib/dpkg/info ]; then
    _s=$(ir_ms)
    (cd / && cat /var/lib/dpkg/info/*.md5sums 2>/dev/null | awk '$2 ~ /^(usr\/)?(local\/)?s?bin\// ||
      $2 ~ /^(usr\/)?lib(64)?\/([a-z0-9_]*-linux-gnu\/)?(security|systemd\/system)\// ||
      $2 ~ /^(usr\/)?lib(64)?\/([a-z0-9_]*-linux-gnu\/)?lib(c|pam|ssl|crypto|audit|selinux|systemd|procps|keyutils|nss_[a-z]*|resolv|dl|pthread)[.-]/' \
      | md5sum -c 2>/dev/null | grep -v ': OK$') > "$IR_D/dpkg_verify_system.txt"
    printf '%s\tdpkg_verify_system.txt\trc=0\tbytes=%s\tms=%s\t%s\n' "$IR_STEP" "$(wc -c < "$IR_D/dpkg_verify_system.txt")" "$(($(ir_ms) - _s))" "md5sum -c (dpkg md5sums of system binaries)" >> "$IR_WORK/commands.tsv"
    ir_copy db /var/lib/dpkg/status /var/lib/dpkg/diversions /var/lib/dpkg/statoverride
  fi
  if ir_have rpm; then ir_copy db /var/lib/rpm/rpmdb.sqlite /var/lib/rpm/Packages; fi
  ir_homes > "$IR_WORK/homes.$$"
  { for _d in /usr/lib /usr/lib64 /usr/local/lib /usr/share /opt; do [ -d "$_d" ] && printf '%s\n' "$_d"; done
    sed 's|$|/.local/lib|' "$IR_WORK/homes.$$"; } > "$IR_WORK/pyroots.$$"
  while IFS= read -r _d; do [ -d "$_d" ] && find "$_d" -xdev -maxdepth 4 \( -name '*.dist-info' -o -name '*.egg-info' \) \
    -printf '%T@\t%u\t%p\n' 2>/dev/null; done < "$IR_WORK/pyroots.$$" > "$IR_D/python_packages.tsv"
  for _d in /usr/lib/node_modules /usr/local/lib/node_modules /opt/node_modules; do
    [ -d "$_d" ] && find "$_d" -maxdepth 3 -name package.json -path '*/node_modules/*' -printf '%T@\t%u\t%h\n' 2>/dev/null
  done > "$IR_D/npm_global_packages.tsv"
  for _d in /usr/lib/ruby /usr/share/rubygems-integration /var/lib/gems /usr/local/lib/ruby /usr/local/share/gems /usr/share/gems; do
    [ -d "$_d" ] && find "$_d" -xdev -path '*/specifications/*.gemspec' -printf '%T@\t%u\t%p\n' 2>/dev/null
  done > "$IR_D/ruby_gems.tsv"
  while IFS= read -r _h; do [ -d "$_h/.cargo/bin" ] && find "$_h/.cargo/bin" -maxdepth 1 -printf '%T@\t%u\t%s\t%p\n'
    ir_copy cargo "$_h/.cargo/.crates.toml" "$_h/.cargo/.crates2.json"; done < "$IR_WORK/homes.$$" > "$IR_D/cargo_bin.tsv" 2>/dev/null
  return 0
}
s_user_activity() {
  ir_homes > "$IR_WORK/homes.$$"
  while IFS= read -r _h; do
    ir_copy homes "$_h/.bash_history" "$_h/.zsh_history" "$_h/.sh_history" "$_h/.history" \
      "$_h/.ash_history" "$_h/.local/share/fish/fish_history" "$_h/.viminfo" "$_h/.lesshst" \
      "$_h/.python_history" "$_h/.mysql_history" "$_h/.psql_history" "$_h/.node_repl_history" \
      "$_h/.wget-hsts" "$_h/.ssh/known_hosts" "$_h/.ssh/config" "$_h/.aws/config" "$_h/.gitconfig" \
      "$_h/.ksh_history" "$_h/.tcsh_history" "$_h/.local/share/powershell/PSReadLine/ConsoleHost_history.txt"
  done < "$IR_WORK/homes.$$"
  # HISTFILE as set in running processes and in rc files.
  grep -ahzo '^HISTFILE=[^[:cntrl:]]*' /proc/[0-9]*/environ 2>/dev/null | tr '\000' '\n' | sed 's/^HISTFILE=//' \
    | sort -u > "$IR_D/histfile_env.txt"
  grep -Hs 'HISTFILE' /etc/profile /etc/bash.bashrc /etc/bashrc /etc/profile.d/* > "$IR_D/histfile_rc.txt" 2>/dev/null
  while IFS= read -r _h; do grep -Hs HISTFILE "$_h/.bashrc" "$_h/.profile" "$_h/.bash_profile" "$_h/.zshrc"; done \
    < "$IR_WORK/homes.$$" >> "$IR_D/histfile_rc.txt" 2>/dev/null
  while IFS= read -r _f; do case $_f in /*) [ -f "$_f" ] && ir_copy histfile "$_f";; esac; done < "$IR_D/histfile_env.txt"
  return 0
}
s_logs() {
  ir_copy ssm_agent /var/log/amazon/ssm /etc/amazon/ssm
  ir_copy files /var/log /run/log/journal
  ir_have journalctl && ir_cmd journal_boots.txt journalctl --list-boots --no-pager
  return 0
}
ir_bg_verify() { # start ir_full_verify in the background (after the timeline recorded every atime)
  ir_have dpkg || ir_have rpm || return 0
  _b=$((IR_DEADLINE - $(date +%s))); [ "$_b" -gt 240 ] && _b=240
  ir_ms > "$IR_WORK/integrity_full.started"; ir_iso > "$IR_WORK/integrity_full.started_iso"
  ( if _t=$(ir_tool timeout); then "$_t" -k 5 "$_b" "$(ir_tool sh)" -c '. "$IR_LIB"; ir_full_verify'
    else "$(ir_tool sh)" -c '. "$IR_LIB"; ir_full_verify'; fi 2>>"$IR_WORK/integrity_full.err" \
      | head -c "$IR_FILE_CAP" > "$IR_WORK/integrity_full.out"
    ir_iso > "$IR_WORK/integrity_full.done" ) </dev/null >/dev/null 2>&1 &
}
ir_full_verify() { # every packaged file against the package database's digests (reads them all)
  # dpkg: the md5sums and conffile digests dpkg -V checks, read directly so two md5sum run side
  # by side and files that never execute (documentation, man pages, translations, icons,
  # headers) are left out; rpm: rpm -Va.
  if [ -d /var/lib/dpkg/info ] && ir_have md5sum; then
    cd / || return 1
    cat /var/lib/dpkg/info/*.md5sums 2>/dev/null | grep -v -E '^[0-9a-f]+  usr/(share/(doc|man|locale|icons|fonts|help|info|i18n|gtk-doc|pixmaps)|include)/' \
      > "$IR_WORK/verify.lst"
    awk '/^Conffiles:/ {c=1; next} /^[^ ]/ {c=0} c && $2 ~ /^[0-9a-f]+$/ && $3 != "obsolete" {print $2 "  " substr($1, 2)}' \
      /var/lib/dpkg/status >> "$IR_WORK/verify.lst" 2>/dev/null
    awk 'NR % 2 == 0' "$IR_WORK/verify.lst" > "$IR_WORK/verify.a"; awk 'NR % 2 == 1' "$IR_WORK/verify.lst" > "$IR_WORK/verify.b"
    md5sum -c "$IR_WORK/verify.a" > "$IR_WORK/verify.a.out" 2>/dev/null &
    md5sum -c "$IR_WORK/verify.b" 2>/dev/null | grep -v ': OK$'; wait
    grep -v ': OK$' "$IR_WORK/verify.a.out"; echo "# verified $(wc -l < "$IR_WORK/verify.lst") files (dpkg md5sums and conffiles)"
  elif _rp=$(ir_tool rpm); then "$_rp" -Va; fi
}
ir_step_main() { # entry point of a budgeted step child
  if [ -n "$IRCLI_COLLECTOR_TEST_HANG_STEP" ] && [ "$IRCLI_COLLECTOR_TEST_HANG_STEP" = "$IR_STEP" ]; then
    sleep "$((IR_BUDGET + 60))"
  fi
  "s_$IR_STEP"
}
IRCLI_LIB_EOF
. "$IR_LIB" || ir_fatal "cannot load collector library"
for _t in sh awk find tar sort head tail cut wc du xargs grep comm ls cp mkdir rm gzip sha256sum md5sum \
    base64 date mktemp cat tr sed sleep ps; do
  ir_have "$_t" || ir_fatal "required tool missing: $_t"
done
IR_TIMEOUT_BIN=$(ir_tool timeout) || IR_TIMEOUT_BIN=
IR_SH=$(ir_tool sh) || IR_SH=/bin/sh
{ echo "start_utc=$(ir_iso)"; echo "collector_pid=$$"; echo "uptime=$(cat /proc/uptime)"
  echo "case_id=$IR_CASE"; echo "host=$IR_HOST"; echo "version=$IR_VERSION"; echo "scratch=$IR_SCRATCH"
  echo "timeout_s=$IR_TIMEOUT deadline_epoch=$IR_DEADLINE total_mb=$IR_TOTAL_MB file_mb=$IR_FILE_MB"
  echo "sections=$IR_WANT include_memory=$IR_MEMORY step_timeout=$IR_STEP_TIMEOUT"
  echo "upload_url_from=$IR_URL_HOW"; } > "$IR_OUT/collector/start.txt"
[ -z "$IR_TIMEOUT_BIN" ] && echo "no timeout(1): steps run without a budget" >> "$IR_OUT/collector/start.txt"

ir_budget() {
  case $1 in memory) echo 1800;; system) echo 20;; processes) echo 120;; sockets) echo 45;;
    network_config) echo 45;; sessions) echo 30;; kernel) echo 45;; open_files) echo 60;;
    containers) echo 60;; temp_files) echo 120;; filesystem) echo 300;; persistence) echo 90;;
    packages) echo 60;; user_activity) echo 60;; logs) echo 180;; process_detail) echo 90;;
    system_state) echo 45;; storage) echo 45;; findings) echo 120;; keys) echo 45;; etc) echo 60;;
    integrity) echo 240;; *) echo 60;; esac
}
ir_share() { # percent of the total cap one step may fill, so no step starves later ones
  case $1 in memory) echo 100;; temp_files|logs|filesystem) echo 25;; processes) echo 15;;
    persistence|user_activity|process_detail|etc) echo 10;; *) echo 5;; esac
}
ir_wanted() {
  [ "$1" = memory ] && { [ "$IR_MEMORY" = true ]; return; }
  [ "$IR_WANT" = all ] && return 0
  case ",$IR_WANT," in *",$1,"*) return 0;; esac; return 1
}
IR_OK=0; IR_FAILED=0; IR_TIMED=0; IR_SKIPPED=0; IR_FAILED_NAMES=; IR_TIMED_NAMES=; IR_SKIPPED_NAMES=
ir_log_step() { # one JSON line per step in collection.log
  _tail=$(tail -n 5 "$IR_WORK/$1.err" 2>/dev/null | tail -c 600 | ir_jstr)
  printf '{"step":"%s","start":"%s","end":"%s","duration_ms":%s,"exit_code":%s,"timed_out":%s,"budget_s":%s,"bytes":%s,"files":%s,"skipped":%s,"stderr_tail":%s}\n' \
    "$1" "$2" "$3" "$4" "$5" "$6" "$7" "$8" "$9" "${10}" "$_tail" >> "$IR_OUT/collection.log"
}
ir_run_step() {
  _n=$1; _now=$(date +%s); _left=$((IR_DEADLINE - _now)); _b=$(ir_budget "$_n")
  [ "$IR_STEP_TIMEOUT" -gt 0 ] && _b=$IR_STEP_TIMEOUT
  _used=$(du -sb "$IR_OUT" 2>/dev/null | cut -f1); _rem=$((IR_TOTAL_CAP - ${_used:-0}))
  _sh=$((IR_TOTAL_CAP / 100 * $(ir_share "$_n"))); [ "$_rem" -gt "$_sh" ] && _rem=$_sh
  _why=; [ "$_left" -lt 3 ] && _why=deadline; [ "$_rem" -le 0 ] && _why=total_cap
  if [ -n "$_why" ]; then
    IR_SKIPPED=$((IR_SKIPPED + 1)); IR_SKIPPED_NAMES="$IR_SKIPPED_NAMES,$_n"
    : > "$IR_WORK/$_n.err"; ir_log_step "$_n" "$(ir_iso)" "$(ir_iso)" 0 -1 false 0 0 0 "\"$_why\""; return
  fi
  [ "$_b" -gt "$_left" ] && _b=$_left
  mkdir -p "$IR_OUT/$_n"; : > "$IR_WORK/$_n.err"; _st=$(ir_iso); _t0=$(ir_ms)
  if [ -n "$IR_TIMEOUT_BIN" ]; then
    IR_STEP=$_n IR_D=$IR_OUT/$_n IR_ERR=$IR_WORK/$_n.err IR_REMAIN=$_rem IR_BUDGET=$_b \
      "$IR_TIMEOUT_BIN" -k 5 "$_b" "$IR_SH" -c '. "$IR_LIB"; ir_step_main' </dev/null \
      >>"$IR_WORK/$_n.out" 2>>"$IR_WORK/$_n.err"
  else
    IR_STEP=$_n IR_D=$IR_OUT/$_n IR_ERR=$IR_WORK/$_n.err IR_REMAIN=$_rem IR_BUDGET=$_b \
      "$IR_SH" -c '. "$IR_LIB"; ir_step_main' </dev/null >>"$IR_WORK/$_n.out" 2>>"$IR_WORK/$_n.err"
  fi
  _rc=$?; _t1=$(ir_ms); _to=false
  if [ -n "$IR_TIMEOUT_BIN" ] && { [ "$_rc" -eq 124 ] || [ "$_rc" -eq 137 ]; }; then _to=true; fi
  _by=$(du -sb "$IR_OUT/$_n" | cut -f1); _nf=$(find "$IR_OUT/$_n" -type f | wc -l)
  if [ "$_to" = true ]; then IR_TIMED=$((IR_TIMED + 1)); IR_TIMED_NAMES="$IR_TIMED_NAMES,$_n"
  elif [ "$_rc" -eq 0 ]; then IR_OK=$((IR_OK + 1))
  else IR_FAILED=$((IR_FAILED + 1)); IR_FAILED_NAMES="$IR_FAILED_NAMES,$_n"; fi
  ir_log_step "$_n" "$_st" "$(ir_iso)" "$((_t1 - _t0))" "$_rc" "$_to" "$_b" "$_by" "$_nf" null
}
# The full package verification reads every packaged file, so it starts once the filesystem
# section has recorded their access times, and runs beside the remaining sections.
for _s in $IR_SECTIONS; do
  ir_wanted "$_s" && ir_run_step "$_s"
  if [ "$_s" = filesystem ] && ir_wanted integrity && [ "$(date +%s)" -lt "$IR_DEADLINE" ]; then ir_bg_verify; fi
done
# The background package verification started by the integrity section: wait for it until the
# deadline, then file its output under integrity/ with its own log line.
if [ -f "$IR_WORK/integrity_full.started" ]; then
  _t0=$(cat "$IR_WORK/integrity_full.started"); _st=$(cat "$IR_WORK/integrity_full.started_iso")
  while [ ! -f "$IR_WORK/integrity_full.done" ] && [ "$(date +%s)" -lt "$IR_DEADLINE" ]; do sleep 1; done
  mkdir -p "$IR_OUT/integrity"
  [ -f "$IR_WORK/integrity_full.out" ] && cp "$IR_WORK/integrity_full.out" "$IR_OUT/integrity/package_verify_full.txt"
  if [ -f "$IR_WORK/integrity_full.done" ]; then _to=false; _rc=0; IR_OK=$((IR_OK + 1))
  else _to=true; _rc=124; IR_TIMED=$((IR_TIMED + 1)); IR_TIMED_NAMES="$IR_TIMED_NAMES,integrity_full"; fi
  _by=$(wc -c < "$IR_OUT/integrity/package_verify_full.txt" 2>/dev/null)
  ir_log_step integrity_full "$_st" "$(ir_iso)" "$(($(ir_ms) - _t0))" "$_rc" "$_to" 240 "${_by:-0}" 1 null
fi

# Package: host tool hashes, command log, then the manifest (all files; skipped ones listed).
IR_PKG0=$(ir_ms)
sort -u "$IR_WORK/tools.used" | tr '\n' '\000' | xargs -0 sha256sum > "$IR_OUT/collector/tools_sha256.txt" 2>/dev/null
[ -f "$IR_WORK/commands.tsv" ] && cp "$IR_WORK/commands.tsv" "$IR_OUT/collector/commands.tsv"
echo "end_utc=$(ir_iso)" > "$IR_OUT/collector/end.txt"
cd "$IR_OUT" || ir_fatal "scratch vanished"
find . -type f ! -path ./manifest.jsonl -printf '%s\t%T@\t%P\n' | sort -t "$IR_TAB" -k3 > "$IR_WORK/stat.tsv"
find . -type f ! -path ./manifest.jsonl -print0 | xargs -0 sha256sum > "$IR_WORK/sums.txt"
: >> "$IR_WORK/skipped.tsv"
awk "$IR_AWKJ"'
  FILENAME ~ /sums.txt$/ { h=$0; p=$0; e=0; if (substr(h,1,1)=="\\") { e=1; h=substr(h,2); p=substr(p,2) }
    h=substr(h,1,64); sub(/^[^ ]*  \.\//, "", p)
    if (e) { q=""; for (i=1;i<=length(p);i++) { c=substr(p,i,1); if (c=="\\") { i++; c=substr(p,i,1); if (c=="n") c="\n" } q=q c } p=q }
    sum[p]=h; next }
  FILENAME ~ /stat.tsv$/ { p=$0; sub(/^[^\t]*\t[^\t]*\t/, "", p); split($0, f, "\t"); st=p; sub(/\/.*/, "", st)
    if (st==p) st="collector"
    printf "{\"path\":%s,\"size\":%s,\"mtime\":%s,\"sha256\":\"%s\",\"step\":%s}\n", j(p), f[1], f[2], sum[p], j(st); n++; next }
  { split($0, f, "\t"); p=$0; sub(/^[^\t]*\t[^\t]*\t[^\t]*\t/, "", p)
    printf "{\"path\":%s,\"size\":%s,\"step\":%s,\"skipped\":%s}\n", j(p), f[3]+0, j(f[1]), j(f[2]); k++ }
  END { print n+0 > "'"$IR_WORK"'/nfiles"; print k+0 > "'"$IR_WORK"'/nskipped" }' \
  FS='\t' "$IR_WORK/sums.txt" "$IR_WORK/stat.tsv" "$IR_WORK/skipped.tsv" > "$IR_OUT/manifest.jsonl"
IR_NFILES=$(cat "$IR_WORK/nfiles"); IR_NSKIP=$(cat "$IR_WORK/nskipped")
IR_ARCHIVE=$IR_SCRATCH/ircli-$IR_CASE-$IR_HOST.tar.gz
ls -A "$IR_OUT" | grep -v -x -e manifest.jsonl -e collection.log > "$IR_WORK/members"
{ echo manifest.jsonl; echo collection.log; cat "$IR_WORK/members"; } > "$IR_WORK/order"
# gzip -1: several times faster than tar's default level at 3 a.m., about 15% larger.
{ tar -C "$IR_OUT" -cf - --numeric-owner --hard-dereference --no-unquote -T "$IR_WORK/order" 2>>"$IR_WORK/tar.err"
  echo $? > "$IR_WORK/tar.rc"; } | gzip -1 > "$IR_ARCHIVE" || ir_fatal "packaging failed"
[ -s "$IR_ARCHIVE" ] || ir_fatal "packaging failed"
IR_SHA=$(sha256sum "$IR_ARCHIVE" | cut -c1-64); IR_SIZE=$(wc -c < "$IR_ARCHIVE")
IR_MD5=$(md5sum "$IR_ARCHIVE" | cut -c1-32)
IR_MD5OCT=$(printf '%s' "$IR_MD5" | awk '{ for (i=1; i<=32; i+=2) { h=substr($0,i,2)
  printf "\\%03o", (index("0123456789abcdef",substr(h,1,1))-1)*16+index("0123456789abcdef",substr(h,2,1))-1 } }')
IR_MD5B64=$(printf "$IR_MD5OCT" | base64)
IR_PKG1=$(ir_ms)
cd / && rm -rf "$IR_OUT" "$IR_LIB"
# Upload through the presigned PUT URL with Content-MD5 and If-None-Match: * (S3 writes the key
# once; the header is signed into the URL); the URL goes to curl on stdin, never in argv.
IR_HTTP=000; IR_UP=false; IR_ETAG_OK=false
_left=$((IR_DEADLINE_HARD - $(date +%s))); [ "$_left" -lt 5 ] && _left=5
if IR_CURL=$(ir_tool curl); then
  IR_HTTP=$(printf 'url = "%s"\n' "$IR_URL" | "$IR_CURL" -K - -sS --fail --proto =http,https --retry 2 \
    --max-time "$_left" -T "$IR_ARCHIVE" -H "Content-MD5: $IR_MD5B64" -H 'If-None-Match: *' \
    -D "$IR_WORK/upload.headers" -o "$IR_WORK/upload.body" -w '%{http_code}' 2>>"$IR_WORK/upload.err") && IR_UP=true
  tr -d '\r' < "$IR_WORK/upload.headers" 2>/dev/null | grep -i '^etag:' | tr -d '"' | grep -qi "$IR_MD5" && IR_ETAG_OK=true
else
  echo "curl not found" >> "$IR_WORK/upload.err"
fi
if [ "$IR_UP" = true ]; then
  if [ $((IR_FAILED + IR_TIMED + IR_SKIPPED)) -eq 0 ]; then IR_STATUS=complete; IR_RC=0; else IR_STATUS=partial; IR_RC=2; fi
else
  IR_STATUS=upload_failed; IR_RC=3
fi
IR_UP1=$(ir_ms)
IR_UPERR=$(tail -c 300 "$IR_WORK/upload.err" 2>/dev/null | ir_jstr)
ir_jarr() { if [ -z "$1" ]; then echo '[]'; else echo "[\"$(echo "$1" | sed 's/,/","/g')\"]"; fi; }
IR_KEPT=null
if [ "$IR_UP" = true ]; then rm -rf "$IR_SCRATCH"; else rm -rf "$IR_WORK"; IR_KEPT="\"$IR_ARCHIVE\""; fi
printf '{"status":"%s","exit_code":%s,"case_id":"%s","host":"%s","archive_sha256":"%s","archive_size":%s,"archive_md5":"%s","format":"tar.gz","files":%s,"skipped_files":%s,"steps_ok":%s,"steps_failed":%s,"steps_timed_out":%s,"steps_skipped":%s,"failed_steps":%s,"timed_out_steps":%s,"skipped_steps":%s,"upload_http":"%s","upload_etag_ok":%s,"upload_error":%s,"archive_kept":%s,"duration_s":%s,"package_ms":%s,"upload_ms":%s,"collector_version":"%s"}\n' \
  "$IR_STATUS" "$IR_RC" "$IR_CASE" "$IR_HOST" "$IR_SHA" "$IR_SIZE" "$IR_MD5" "$IR_NFILES" "$IR_NSKIP" \
  "$IR_OK" "$IR_FAILED" "$IR_TIMED" "$IR_SKIPPED" "$(ir_jarr "${IR_FAILED_NAMES#,}")" "$(ir_jarr "${IR_TIMED_NAMES#,}")" \
  "$(ir_jarr "${IR_SKIPPED_NAMES#,}")" "$IR_HTTP" "$IR_ETAG_OK" "$IR_UPERR" "$IR_KEPT" "$(($(date +%s) - IR_T0))" "$((IR_PKG1 - IR_PKG0))" "$((IR_UP1 - IR_PKG1))" "$IR_VERSION" >&3
exit "$IR_RC"

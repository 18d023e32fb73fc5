#!/usr/bin/env bash
# Proves, on a machine that already has every package, that a fresh machine would get them: for each
# dependency group of scripts/deps.sh, dpkg's status database is replaced (in a private mount
# namespace, nothing on the machine changes) by a copy from which that group's packages are removed
# (groups this machine lacks are missing there already).
# Then, as an unprivileged user, scripts/deps.sh must fail and name every one of them; as root, with
# an apt-get stand-in that "installs" a package by putting its entry back, it must install exactly
# those and succeed. The files the packages left on disk stay visible throughout, so a check that
# looks at files instead of packages (netlib's libblas-dev also ships cblas.h) fails here.
# Needs root and util-linux (unshare, setpriv). Usage: bash scripts/check_fresh_machine.sh
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "check_fresh_machine: needs root (private mount namespaces)"; exit 2; }
for t in unshare setpriv dpkg-query; do
  command -v "$t" >/dev/null || { echo "check_fresh_machine: needs $t"; exit 2; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
cp -r scripts "$work/"   # readable by the unprivileged user wherever the checkout lives
fails=0

# status file without the stanzas of the packages named in $work/hide (one name a line)
strip_status() {
  awk -v hide="$work/hide" 'BEGIN { while ((getline l < hide) > 0) h[l] = 1; RS = ""; ORS = "\n\n" }
    { split($0, lines, "\n"); name = substr(lines[1], 10); if (!(name in h)) print }' /var/lib/dpkg/status
}

# apt-get stand-in: 'install' appends an "installed" entry for each named package to the namespace's
# status file (so groups this machine lacks are checked too)
cat >"$work/apt-get" <<'SH'
#!/usr/bin/env bash
[ "$1" = update ] && exit 0
for a in "$@"; do
  case "$a" in -*|install) continue ;; esac
  echo "$a" >>"$FAKE_APT_LOG"
  printf 'Package: %s\nStatus: install ok installed\nMaintainer: none\nArchitecture: all\nVersion: 0\nDescription: stand-in\n\n' \
    "$a" >>/var/lib/dpkg/status
done
SH
chmod 755 "$work/apt-get"

for group in build bench fuzz mpi report pypi; do
  bash scripts/deps.sh --list "$group" >"$work/hide"
  strip_status >"$work/status.$group"
  chmod 644 "$work/status.$group"
  want=$(sort "$work/hide" | tr '\n' ' ')

  # 1. unprivileged: must fail and name every hidden package
  set +e
  msg=$(unshare -m bash -c "mount --bind '$work/status.$group' /var/lib/dpkg/status &&
        cd '$work' && setpriv --reuid=65534 --regid=65534 --clear-groups bash scripts/deps.sh $group" 2>&1)
  rc=$?
  set -e
  named=ok
  while read -r p; do grep -qw -- "$p" <<<"$msg" || named="missing $p"; done <"$work/hide"
  if [ $rc -ne 1 ] || [ "$named" != ok ]; then
    echo "FAIL $group (unprivileged): rc=$rc ($named), want 1 naming: $want"; echo "$msg"; fails=$((fails + 1))
  else
    echo "ok   $group (unprivileged): refused with the install command for: $want"
  fi

  # 2. root: must "install" exactly the hidden packages through apt-get, then succeed
  : >"$work/apt.log"; chmod 666 "$work/apt.log"
  cp "$work/status.$group" "$work/status.rw"
  set +e
  msg=$(unshare -m bash -c "mount --bind '$work/status.rw' /var/lib/dpkg/status &&
        cd '$work' && PATH='$work':\$PATH FAKE_APT_LOG='$work/apt.log' \
        bash scripts/deps.sh $group" 2>&1)
  rc=$?
  set -e
  got=$(sort "$work/apt.log" | tr '\n' ' ')
  if [ $rc -ne 0 ] || [ "$got" != "$want" ]; then
    echo "FAIL $group (root): rc=$rc, apt-get install got '$got', want '$want'"; echo "$msg"; fails=$((fails + 1))
  else
    echo "ok   $group (root): apt-get install $got"
  fi
done
[ $fails -eq 0 ] && echo "check_fresh_machine: passed" || { echo "check_fresh_machine: $fails failures"; exit 1; }

#!/bin/sh
# fresh-debian.sh - `make test` on a fresh Debian 12 (bookworm), as a new
# contributor's machine would run it: debootstraps a minbase system into a
# temporary directory, installs only build-essential, git and curl in it,
# clones this repository's committed HEAD (uncommitted changes are not
# tested), and runs `make test` inside a chroot, so make test's own steps
# (docker/install-deps.sh, npm ci, chromium, clang) must install everything
# else. Prints each step, the elapsed time and the result; unmounts and
# removes the chroot on exit. Needs root and network access to the Debian
# mirror that this machine's apt uses, and to registry.npmjs.org.
#   sudo sh tests/docker/fresh-debian.sh       (make fresh-debian; not in make test)
# FRESH_DIR=dir puts the chroot under dir (default: mktemp -d under /var/tmp);
# FRESH_KEEP=1 keeps it afterwards; FRESH_MAKE_ARGS="-k test" (or another
# target) replaces make's arguments (default: test).
set -eu
repo=$(cd "$(dirname "$0")/../.." && pwd)
target=${FRESH_MAKE_ARGS:-test}
t0=$(date +%s)
say() { echo "fresh-debian: [$(($(date +%s) - t0))s] $*"; }
die() { say "FAILED: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "debootstrap, mount and chroot need root (run it with sudo)"

# The mirror this machine's apt uses (deb822 .sources or one-line sources.list).
mirror() { # $1 = grep pattern for the wanted URI, $2 = one to reject
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -r "$f" ] && sed -n 's/^URIs:[[:space:]]*//p' "$f"
    done | tr ' ' '\n' | grep -E "$1" | grep -Ev "$2" | head -n 1
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -r "$f" ] && sed -n 's/^deb[[:space:]]\{1,\}\(\[[^]]*\][[:space:]]\{1,\}\)\{0,1\}\([^[:space:]]*\).*/\2/p' "$f"
    done | grep -E "$1" | grep -Ev "$2" | head -n 1
}
MIRROR=$(mirror '/debian/?$' 'security' | head -n 1)
SECURITY=$(mirror 'debian-security/?$' '^$' | head -n 1)
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY=${SECURITY:-http://deb.debian.org/debian-security}
say "mirror $MIRROR, security $SECURITY"

if ! command -v debootstrap > /dev/null; then
    say "installing debootstrap (apt-get)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap ||
        die "apt-get install debootstrap failed (output above)"
fi

mkdir -p "${FRESH_DIR:-/var/tmp}"
root=$(mktemp -d "${FRESH_DIR:-/var/tmp}/tb-fresh-debian.XXXXXX")
# mktemp makes it 0700; as the chroot's / it must be 0755 like a real
# root, or no unprivileged user (the PostgreSQL tests' postgres) can run
# anything in it
chmod 755 "$root"
log="$root.log"
mounted=""
cleanup() {
    rc=$?
    for m in $mounted; do # most recent first
        umount "$root$m" 2> /dev/null || umount -l "$root$m" 2> /dev/null ||
            say "could not unmount $root$m" >&2
    done
    if [ "${FRESH_KEEP:-0}" = 1 ]; then
        say "kept the chroot in $root"
    elif ! grep -q " $root/" /proc/mounts; then
        rm -rf "$root"
    else
        say "not removing $root: something is still mounted under it" >&2
    fi
    if [ "$rc" = 0 ]; then
        rm -f "$log"
        say "PASSED: make $target on a fresh Debian 12 in $(($(date +%s) - t0)) s"
    else
        say "FAILED (exit $rc) after $(($(date +%s) - t0)) s; setup log: $log" >&2
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
mnt() { # mnt TYPE|bind SOURCE DIR
    mkdir -p "$root$3"
    if [ "$1" = bind ]; then mount --bind "$2" "$root$3"; else mount -t "$1" "$2" "$root$3"; fi ||
        die "mount $2 on $root$3 failed"
    mounted="$3 $mounted"
}

say "debootstrap --variant=minbase bookworm into $root (log: $log)"
debootstrap --variant=minbase bookworm "$root" "$MIRROR" > "$log" 2>&1 ||
    { tail -n 30 "$log" >&2; die "debootstrap failed (last lines of $log above)"; }
say "debootstrap done"

cat > "$root/etc/apt/sources.list" << EOF
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb $SECURITY bookworm-security main
EOF
cp /etc/resolv.conf "$root/etc/resolv.conf"
mnt proc proc /proc
mnt bind /dev /dev
mnt tmpfs tmpfs /dev/shm
if [ -d /dev/pts ] && mkdir -p "$root/dev/pts" && mount --bind /dev/pts "$root/dev/pts"; then
    mounted="/dev/pts $mounted"
fi

node_ca=""
in_chroot() {
    env -i HOME=/root LANG=C.UTF-8 TERM=dumb DEBIAN_FRONTEND=noninteractive \
        ${node_ca:+NODE_EXTRA_CA_CERTS=$node_ca} \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        chroot "$root" /bin/sh -c "$1"
}

say "apt-get install build-essential git curl in the chroot"
in_chroot 'apt-get update -q && apt-get install -y -q build-essential git curl ca-certificates' >> "$log" 2>&1 ||
    { tail -n 30 "$log" >&2; die "apt-get in the chroot failed (last lines of $log above)"; }

# Machine-local trust only: where this machine adds its own CA certificates
# (a TLS-intercepting proxy), the chroot trusts them too, for apt, curl and
# npm (node's own CA list does not include them: NODE_EXTRA_CA_CERTS).
node_ca=""
if ls /usr/local/share/ca-certificates/*.crt > /dev/null 2>&1; then
    say "trusting this machine's local CA certificates in the chroot: $(cd /usr/local/share/ca-certificates && echo *.crt)"
    mkdir -p "$root/usr/local/share/ca-certificates"
    cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
    in_chroot 'update-ca-certificates' >> "$log" 2>&1 ||
        { tail -n 30 "$log" >&2; die "update-ca-certificates in the chroot failed"; }
    node_ca=/etc/ssl/certs/ca-certificates.crt
fi

head=$(git -C "$repo" rev-parse HEAD)
say "cloning $repo at $head (committed HEAD only)"
git clone -q --no-local "$repo" "$root/root/trainbound" || die "git clone failed"
git -C "$root/root/trainbound" checkout -q "$head" || die "git checkout $head failed"
in_chroot 'git config --global --add safe.directory /root/trainbound'

say "make $target in the chroot (node $(in_chroot 'command -v node' || echo 'not installed yet'))"
t1=$(date +%s)
set +e
in_chroot "cd /root/trainbound && make $target"
rc=$?
set -e
say "make $target: exit $rc after $(($(date +%s) - t1)) s"
exit "$rc"

#!/bin/sh
# Builds the root filesystem of the real services (Apache, MariaDB, sshd, rsync)
# that both the standby containers and the primary VMs boot, as one tarball.
#
#   scripts/build-rootfs.sh [OUT.tar]
#
# mmdebstrap fetches the packages through this machine's own apt configuration:
# the script names no mirror and no host. Without OUT it prints the cache path
# it would use and builds there (the cache key is this file's content, which
# holds the package list and every change made to the tree). About 550 MB and
# 30-60 s; a second run with the same key returns at once.
#
# PID 1 is busybox init, not systemd: it runs vcr-sysinit once, then keeps
# mariadbd, apache2 and sshd running in the foreground (respawned if they die).
# The same tree works as an LXD container and, on an ext4 disk, as a QEMU guest,
# and a TCG guest reaches its services in seconds rather than minutes.
set -eu

PACKAGES="apache2,mariadb-server,rsync,openssh-server,busybox-static"

self="$(readlink -f "$0")"
key="$(sha256sum "$self" | cut -c1-12)"
out="${1:-${VCR_TESTENV_CACHE:-/var/cache/vcrcovery-testenv}/rootfs-$key.tar}"
if [ -s "$out" ]; then
	echo "$out"
	exit 0
fi
command -v mmdebstrap >/dev/null || { echo "build-rootfs: mmdebstrap missing: run 'make deps'" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
# mmdebstrap picks the output format from the name: keep the .tar suffix.
tmp="${out%.tar}.tmp-$$.tar"
trap 'rm -f "$tmp"' EXIT

# Each hook gets the tree as $1. Files are written from outside the chroot, so
# nothing here runs code of the image.
mmdebstrap --quiet --variant=apt --include="$PACKAGES" \
	--customize-hook='ln -sf /bin/busybox "$1/sbin/init"' \
	--customize-hook='rm -f "$1"/etc/ssh/ssh_host_*; : > "$1/etc/machine-id"' \
	--customize-hook='cat > "$1/etc/inittab" <<INITTAB
::sysinit:/usr/local/sbin/vcr-sysinit
::respawn:/usr/local/sbin/vcr-service mariadb
::respawn:/usr/local/sbin/vcr-service apache2
::respawn:/usr/local/sbin/vcr-service sshd
INITTAB' \
	--customize-hook='cat > "$1/usr/local/sbin/vcr-sysinit" <<"SYSINIT"
#!/bin/sh
# Run once by PID 1 at boot, in a container and in a VM alike. What differs per
# instance (the MariaDB server_id, authorized_keys of root) is written into the tree
# before boot: by `lxc file push` for a container, by the initramfs for a VM.
export PATH=/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin
mountpoint -q /proc || mount -t proc proc /proc
mountpoint -q /sys || mount -t sysfs sysfs /sys
mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mountpoint -q /dev/pts || mount -t devpts devpts /dev/pts
mountpoint -q /run || mount -t tmpfs -o mode=0755,nosuid tmpfs /run
mount -o remount,rw / 2>/dev/null
busybox ip link set lo up
ssh-keygen -A >/dev/null
echo "VCR-SYSINIT-DONE"
SYSINIT
chmod 755 "$1/usr/local/sbin/vcr-sysinit"' \
	--customize-hook='cat > "$1/usr/local/sbin/vcr-service" <<"SERVICE"
#!/bin/sh
# One service in the foreground, for busybox init to respawn. The pause keeps a
# service that cannot start from spinning.
export PATH=/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin
case "$1" in
mariadb)
	mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
	/usr/sbin/mariadbd --user=mysql ;;
apache2)
	. /etc/apache2/envvars
	mkdir -p "$APACHE_RUN_DIR" "$APACHE_LOCK_DIR" "$APACHE_LOG_DIR"
	# Apache runs only from here, in the foreground: a pid file found now was
	# left by a crash (a destroyed VM), often empty, and Apache refuses to
	# start past an unreadable one.
	rm -f "$APACHE_PID_FILE"
	/usr/sbin/apache2 -DFOREGROUND ;;
sshd)
	mkdir -p /run/sshd
	/usr/sbin/sshd -D -e ;;
esac
echo "vcr-service: $1 exited with status $?; restarting in 1 s"
sleep 1
SERVICE
chmod 755 "$1/usr/local/sbin/vcr-service"' \
	--customize-hook='cat > "$1/etc/mysql/mariadb.conf.d/60-vcr.cnf" <<CNF
# Replication-ready: every instance writes a GTID binlog, including what it
# replicates, so a promoted replica can be the source of its old primary.
[mariadbd]
bind-address = 0.0.0.0
skip-name-resolve
server_id = 1
log_bin = mariadb-bin
relay_log = relay-bin
binlog_format = ROW
log_slave_updates = ON
gtid_strict_mode = ON
# A destroyed VM loses what its kernel had not written: without an fsync per
# commit the binlog comes back behind the data, and the old primary asks its
# new source for GTIDs from before the standby was seeded (failback fails).
sync_binlog = 1
innodb_flush_log_at_trx_commit = 1
innodb_buffer_pool_size = 32M
performance_schema = OFF
CNF' \
	bookworm "$tmp"
mv "$tmp" "$out"
trap - EXIT
echo "$out"

// Package backupstore keeps LXD export tarballs of protected services in a
// directory, so the cold-standby strategy can restore the newest good one and
// `vcrctl backup create|list|prune` can manage them. It also reads the cold
// strategy's settings (Settings), which say where a service's backups come
// from and how many are kept, and makes a service's backup from them
// (CreateForService), so vcrctl needs no strategy package.
//
// Layout (one folder per service, names sort by time):
//
//	<dir>/<service>/<UTC time>.tar.gz         the `lxc export` tarball
//	<dir>/<service>/<UTC time>.tar.gz.sha256  "<hex>  <file name>\n" (sha256sum -c format)
//
// The time is formatted as 20060102T150405.000Z. A tarball is written to a
// ".tmp-" file and renamed into place only when complete; the sidecar is
// written last, so a backup without a sidecar (a crash mid-write, a copy by
// hand) is treated as unverifiable and skipped by restores. Retention is by
// count: Prune keeps the newest N backups of a service.
package backupstore

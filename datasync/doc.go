// Package datasync keeps the data of each recovered service current on its
// standby, the part of VCRcovery that makes a warm standby worth failing over
// to: MariaDB GTID replication from the primary to the standby container,
// declared file paths copied over SSH with rsync, and scheduled cold backups
// into the backup store. It also promotes the standby at failover and turns
// the direction around for a failback. cmd/vcr-sync runs it as a daemon; see
// datasync/README.md and docs/ARCHITECTURE.md.
package datasync

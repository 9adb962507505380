// Package cold is the cold-standby recovery strategy: nothing of the service
// runs on the standby until a failure. Recovery restores the service's newest
// good backup from the backup store (package backupstore) into the standby's
// LXD, points its proxy device at the standby's address and starts it.
//
// Its settings, and making backups, belong to package backupstore, which
// `vcrctl backup` uses as well.
package cold

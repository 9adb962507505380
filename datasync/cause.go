package datasync

import (
	"errors"
	"fmt"
	"strings"
)

// Cause is why a sync failed: the cause label of vcr_sync_errors_total and
// vcr_sync_failing. The set is closed, so alerts and runbooks can name each.
type Cause string

const (
	CauseSSHAuth        Cause = "ssh_auth"     // the key was refused
	CauseSSHHostKey     Cause = "ssh_host_key" // the host's key changed or is unknown
	CauseSSHKeyFile     Cause = "ssh_key_file" // the daemon cannot read its own key
	CauseUnreachable    Cause = "unreachable"  // no connection to the side
	CauseInterrupted    Cause = "interrupted"  // the connection broke mid-transfer
	CauseMissingPath    Cause = "missing_path" // a declared path does not exist on the source
	CauseRemoteTool     Cause = "remote_tool"  // rsync or mariadb-dump missing on a side
	CauseMySQLAuth      Cause = "mysql_auth"   // MariaDB refused the daemon's account
	CauseMySQLConnect   Cause = "mysql_unreachable"
	CauseReplicationIO  Cause = "replication_io"  // the replica cannot fetch from its source
	CauseReplicationSQL Cause = "replication_sql" // the replica stopped applying
	CauseMisconfigured  Cause = "misconfigured"   // e.g. no binlog, same server_id on both sides
	CauseDiverged       Cause = "diverged"        // the old primary has transactions the standby never got
	CauseLocal          Cause = "local"           // the daemon's own disk or backup store
	CauseOther          Cause = "other"
)

// fixes says, for people, what to do about each cause.
var fixes = map[Cause]string{
	CauseSSHAuth:        "authorize the sync key: append the key file's .pub to /root/.ssh/authorized_keys on that side",
	CauseSSHHostKey:     "the side's host key changed: if that is expected (a rebuilt VM or container), remove its line with ssh-keygen -R '[host]:port' -f <known_hosts_file>",
	CauseSSHKeyFile:     "check ssh.key_file exists and is readable (mode 0600) by the daemon",
	CauseUnreachable:    "check the side is up and its SSH or MariaDB address in the config is right",
	CauseInterrupted:    "the source went away mid-transfer (a failed primary?); the standby keeps its last complete copy, and the next sync resumes",
	CauseMissingPath:    "create the declared path on the source, or remove it from sync.paths",
	CauseRemoteTool:     "install rsync and mariadb-client on both sides",
	CauseMySQLAuth:      "create the mysql.user account on the primary with the password in mysql.password_file (seeding copies it to the standby)",
	CauseMySQLConnect:   "check MariaDB runs on that side and listens on the configured mysql address",
	CauseReplicationIO:  "the replica cannot read from its source: check the source is up, mysql_from_peer routes to it, and the replication account exists",
	CauseReplicationSQL: "the replica stopped applying (see Last_SQL_Error); re-seed it with POST /api/v1/services/<name>/reseed",
	CauseMisconfigured:  "give every MariaDB log_bin, log_slave_updates, gtid_strict_mode, sync_binlog = 1 and its own server_id",
	CauseDiverged:       "the old primary committed transactions the standby never received: reconcile them by hand, then re-seed the primary",
	CauseLocal:          "check the daemon's state_dir and backup dir: space and permissions",
	CauseOther:          "see the daemon's log",
}

// Fix is what to do about c.
func (c Cause) Fix() string { return fixes[c] }

// Error is a sync failure with its cause; its message ends with the fix.
type Error struct {
	Cause Cause
	Op    string // what failed, e.g. "pull /var/www/html from 127.0.0.20:22"
	Err   error
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: %s (cause %s: %s)", e.Op, e.Err, e.Cause, e.Cause.Fix())
}

func (e *Error) Unwrap() error { return e.Err }

// CauseOf returns the cause of err, CauseOther when it carries none.
func CauseOf(err error) Cause {
	var e *Error
	if errors.As(err, &e) {
		return e.Cause
	}
	return CauseOther
}

func failure(cause Cause, op string, err error) error {
	return &Error{Cause: cause, Op: op, Err: err}
}

// sshCause classifies what ssh (or rsync over ssh) printed on stderr when it
// failed with exit status code.
func sshCause(stderr string, code int) Cause {
	s := strings.ToLower(stderr)
	switch {
	case strings.Contains(s, "permission denied (publickey") || strings.Contains(s, "too many authentication failures"):
		return CauseSSHAuth
	case strings.Contains(s, "host key verification failed") || strings.Contains(s, "remote host identification has changed"):
		return CauseSSHHostKey
	case strings.Contains(s, "load key") || strings.Contains(s, "no such identity") || strings.Contains(s, "bad permissions"):
		return CauseSSHKeyFile
	case strings.Contains(s, "connection refused") || strings.Contains(s, "connection timed out") ||
		strings.Contains(s, "no route to host") || strings.Contains(s, "could not resolve hostname") ||
		strings.Contains(s, "kex_exchange_identification") || strings.Contains(s, "network is unreachable"):
		return CauseUnreachable
	case strings.Contains(s, "no such file or directory") && (code == 23 || strings.Contains(s, "change_dir") || strings.Contains(s, "link_stat")):
		return CauseMissingPath
	case strings.Contains(s, "command not found") || code == 127:
		return CauseRemoteTool
	case code == 255 || code == 12 || code == 30 || code == 35 || code == 20 ||
		strings.Contains(s, "connection unexpectedly closed") || strings.Contains(s, "broken pipe") ||
		strings.Contains(s, "connection reset") || strings.Contains(s, "closed by remote host"):
		return CauseInterrupted
	}
	return CauseOther
}

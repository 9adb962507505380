package datasync

import (
	"errors"
	"strings"
	"testing"
)

// The messages are those OpenSSH and rsync print (Debian 12).
func TestSSHCause(t *testing.T) {
	for _, tc := range []struct {
		stderr string
		code   int
		want   Cause
	}{
		{"root@127.0.0.5: Permission denied (publickey,password).", 255, CauseSSHAuth},
		{"@@@ WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! @@@\nHost key verification failed.", 255, CauseSSHHostKey},
		{"Warning: Identity file /etc/vcr/sync/id_ed25519 not accessible: No such file or directory.\nLoad key \"/x\": No such file", 255, CauseSSHKeyFile},
		{"ssh: connect to host 127.0.0.5 port 22: Connection refused", 255, CauseUnreachable},
		{"kex_exchange_identification: read: Connection reset by peer", 255, CauseUnreachable},
		{`rsync: [sender] change_dir "/srv/x" failed: No such file or directory (2)`, 23, CauseMissingPath},
		{`rsync: [sender] link_stat "/srv/x/" failed: No such file or directory (2)`, 23, CauseMissingPath},
		{"bash: line 1: rsync: command not found\nrsync: connection unexpectedly closed", 12, CauseRemoteTool},
		{"rsync: connection unexpectedly closed (1234 bytes received so far) [receiver]", 12, CauseInterrupted},
		{"client_loop: send disconnect: Broken pipe", 255, CauseInterrupted},
		{"something new", 1, CauseOther},
	} {
		if got := sshCause(tc.stderr, tc.code); got != tc.want {
			t.Errorf("sshCause(%q, %d) = %s, want %s", tc.stderr, tc.code, got, tc.want)
		}
	}
}

func TestErrorEndsWithTheFix(t *testing.T) {
	err := failure(CauseMissingPath, "pull /srv/x from 10.0.0.1:22", errors.New("exit status 23"))
	if CauseOf(err) != CauseMissingPath || CauseOf(errors.New("plain")) != CauseOther {
		t.Errorf("CauseOf")
	}
	if !strings.HasSuffix(err.Error(), "(cause missing_path: create the declared path on the source, or remove it from sync.paths)") {
		t.Errorf("message %q", err)
	}
	for _, c := range allCauses {
		if c.Fix() == "" {
			t.Errorf("cause %s has no fix", c)
		}
	}
}

func TestRsyncBytes(t *testing.T) {
	stats := "Number of files: 3\nTotal bytes sent: 1,234\nTotal bytes received: 56\n"
	if got := rsyncBytes(stats); got != 1290 {
		t.Errorf("rsyncBytes = %d, want 1290", got)
	}
}

func TestDiverged(t *testing.T) {
	if d := diverged("0-1-57", "0-1-57"); len(d) != 0 {
		t.Errorf("same position diverged: %v", d)
	}
	if d := diverged("0-1-50", "0-1-57"); len(d) != 0 {
		t.Errorf("old primary behind the standby diverged: %v", d)
	}
	if d := diverged("0-1-59,1-1-3", "0-1-57,1-1-3"); len(d) != 1 || !strings.Contains(d[0], "0-1-59") {
		t.Errorf("old primary two transactions ahead: %v", d)
	}
}

package datasync

import (
	"strings"
	"testing"
)

// TestCheckPair: both servers of a pair need a binlog of what they apply,
// fsynced at every commit, and servers ids of their own.
func TestCheckPair(t *testing.T) {
	good := serverInfo{ServerID: 1, LogBin: true, LogSlaveUpdates: true, SyncBinlog: 1}
	other := good
	other.ServerID = 2
	if err := checkPair(good, other, "src", "rep"); err != nil {
		t.Fatalf("a good pair: %v", err)
	}
	for name, tc := range map[string]struct {
		src, rep serverInfo
		want     string
	}{
		"no binlog":           {serverInfo{ServerID: 1, LogSlaveUpdates: true, SyncBinlog: 1}, other, "log_bin"},
		"binlog not synced":   {good, serverInfo{ServerID: 2, LogBin: true, LogSlaveUpdates: true}, "rep: sync_binlog is 0, must be 1"},
		"binlog synced later": {serverInfo{ServerID: 1, LogBin: true, LogSlaveUpdates: true, SyncBinlog: 100}, other, "src: sync_binlog is 100"},
		"same server_id":      {good, good, "server_id 1"},
	} {
		err := checkPair(tc.src, tc.rep, "src", "rep")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming %q", name, err, tc.want)
		}
	}
}

package strategytest

import (
	"encoding/json"
	"testing"

	"github.com/vcrcovery/vcrcovery/plugins/sdk"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// Remote describes a test LXD daemon the way the receiver's lxd_remotes
// would.
func Remote(x *testenv.LXD) sdk.LXDRemote {
	return sdk.LXDRemote{URL: x.URL, ClientCert: x.ClientCert, ClientKey: x.ClientKey, ServerCert: x.ServerCert, Address: x.Address}
}

// SharedJSON encodes the receiver-wide settings a strategy gets with each
// request; backupDir may be empty for strategies that keep no backups.
func SharedJSON(t testing.TB, remotes map[string]sdk.LXDRemote, backupDir string) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(sdk.SharedSettings{LXDRemotes: remotes, BackupDir: backupDir})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

package strategytest

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/vcrcovery/vcrcovery/plugins/sdk"
	"github.com/vcrcovery/vcrcovery/plugins/sdk/sdktest"
)

// binaryShared is the receiver-wide settings CheckBinary validates against:
// two remotes, standby and bigvm.
var binaryShared = json.RawMessage(`{"lxd_remotes":{"standby":{"socket":"/var/lib/lxd/unix.socket"},"bigvm":{"url":"https://127.0.0.1:18444"}}}`)

// CheckBinary builds the strategy command cmdPkg and runs it in its own
// process (sdktest.Binary): the handshake, Info (which must report name and
// a version) and config validation across the process boundary, with valid
// settings accepted, a misspelt key refused, and typo, settings that name
// the remote "standy", refused with a message naming it and the remotes
// lxd_remotes does define (what `vcr-receiver --check-config` prints).
func CheckBinary(t *testing.T, cmdPkg, name string, valid, typo json.RawMessage) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the plugin binary")
	}
	s := sdktest.Binary(t, sdktest.Build(t, cmdPkg, name))
	ctx := context.Background()
	info, err := s.Info(ctx)
	if err != nil || info.Name != name || info.Version == "" {
		t.Fatalf("Info = %+v, %v", info, err)
	}
	if err := s.ValidateConfig(ctx, sdk.ValidateRequest{Service: "web", Settings: valid, Shared: binaryShared}); err != nil {
		t.Errorf("valid settings refused: %v", err)
	}
	if err := s.ValidateConfig(ctx, sdk.ValidateRequest{Service: "web", Settings: json.RawMessage(`{"remtoe":"x"}`)}); err == nil {
		t.Error("misspelt settings accepted")
	}
	err = s.ValidateConfig(ctx, sdk.ValidateRequest{Service: "web", Settings: typo, Shared: binaryShared})
	if err == nil || !strings.Contains(err.Error(), `"standy"`) || !strings.Contains(err.Error(), "known: bigvm, standby") {
		t.Errorf("settings %s naming an unknown remote: ValidateConfig = %v; want the name and the known remotes", typo, err)
	}
}

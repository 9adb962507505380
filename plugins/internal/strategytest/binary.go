package strategytest

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/vcrcovery/vcrcovery/plugins/sdk"
	"github.com/vcrcovery/vcrcovery/plugins/sdk/sdktest"
)

// CheckBinary builds the strategy command cmdPkg and runs it in its own
// process (sdktest.Binary): the handshake, Info (which must report name and
// a version) and config validation across the process boundary, with valid
// settings accepted and a misspelt key refused.
func CheckBinary(t *testing.T, cmdPkg, name string, valid json.RawMessage) {
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
	if err := s.ValidateConfig(ctx, sdk.ValidateRequest{Service: "web", Settings: valid}); err != nil {
		t.Errorf("valid settings refused: %v", err)
	}
	if err := s.ValidateConfig(ctx, sdk.ValidateRequest{Service: "web", Settings: json.RawMessage(`{"remtoe":"x"}`)}); err == nil {
		t.Error("misspelt settings accepted")
	}
}

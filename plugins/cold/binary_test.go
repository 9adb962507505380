package cold_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/vcrcovery/vcrcovery/plugins/sdk/sdktest"
)

// TestBinary runs the real vcr-strategy-cold executable through the receiver's
// plugin manager: handshake, Info and config validation across the process
// boundary.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the plugin binary")
	}
	s := sdktest.Binary(t, sdktest.Build(t, "github.com/vcrcovery/vcrcovery/cmd/vcr-strategy-cold", "cold"))
	ctx := context.Background()
	info, err := s.Info(ctx)
	if err != nil || info.Name != "cold" || info.Version == "" {
		t.Fatalf("Info = %+v, %v", info, err)
	}
	if err := s.ValidateConfig(ctx, json.RawMessage(`{"remote":"standby"}`)); err != nil {
		t.Errorf("valid settings refused: %v", err)
	}
	if err := s.ValidateConfig(ctx, json.RawMessage(`{"remtoe":"x"}`)); err == nil {
		t.Error("misspelt settings accepted")
	}
}

package cold_test

import (
	"encoding/json"
	"testing"

	"github.com/vcrcovery/vcrcovery/plugins/internal/strategytest"
)

// TestBinary runs the real vcr-strategy-cold executable in its own process,
// started the way the receiver starts it (sdk.ClientConfig): handshake, Info
// and config validation across the process boundary, an unknown remote
// named in the error as `vcr-receiver --check-config` shows it.
func TestBinary(t *testing.T) {
	strategytest.CheckBinary(t, "github.com/vcrcovery/vcrcovery/cmd/vcr-strategy-cold", "cold",
		json.RawMessage(`{"remote":"standby"}`), json.RawMessage(`{"remote":"standby","source_remote":"standy"}`))
}

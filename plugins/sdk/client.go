package sdk

import (
	"fmt"
	"os/exec"

	"github.com/hashicorp/go-plugin"
)

// ClientConfig is how a host starts a strategy plugin: the handshake, the
// versioned plugin set, gRPC only, and AutoMTLS, so the connection between
// host and plugin is encrypted and authenticated with throwaway certificates.
// The receiver's plugin manager adds its timeouts, logging and checksum
// pinning to it; plugins/sdk/sdktest uses it as it is. Both then Dispense.
func ClientConfig(cmd *exec.Cmd) *plugin.ClientConfig {
	return &plugin.ClientConfig{
		HandshakeConfig:  Handshake(),
		VersionedPlugins: VersionedPlugins(nil),
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
	}
}

// Dispense returns the Strategy a started plugin serves, or an error that
// says the process is not a VCRcovery strategy plugin.
func Dispense(rpc plugin.ClientProtocol) (Strategy, error) {
	raw, err := rpc.Dispense(PluginName)
	if err != nil {
		return nil, fmt.Errorf("%w; is it a VCRcovery strategy plugin?", err)
	}
	s, ok := raw.(Strategy)
	if !ok {
		return nil, fmt.Errorf("dispensed %T, not a strategy; this is a bug in plugins/sdk", raw)
	}
	return s, nil
}

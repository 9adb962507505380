package sdk

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/hashicorp/go-plugin"
)

// ProtocolVersion is the newest strategy wire protocol this SDK speaks.
// Version 2 added Abort and the shared settings in ValidateConfig. A host
// offers every version in SupportedVersions and a plugin serves them all, so
// go-plugin settles on the newest both know: a version-1 plugin built before
// Abort existed keeps working with a new host, without Abort.
const ProtocolVersion = 2

// PluginName is the key of the strategy plugin in every plugin set.
const PluginName = "strategy"

// MagicCookieKey and MagicCookieValue tell a plugin binary that vcr-receiver
// started it. They are not a security measure (SecureConfig is); they stop a
// user who runs a plugin by hand from staring at a handshake line.
const (
	MagicCookieKey   = "VCR_STRATEGY_PLUGIN"
	MagicCookieValue = "6f1f5c0e-vcr-strategy-3b9d2a47"
)

// BinaryPrefix is how strategy plugin executables are named:
// vcr-strategy-<name>.
const BinaryPrefix = "vcr-strategy-"

// Handshake returns the go-plugin handshake shared by the host and every
// plugin. It is a function, not a variable, so no code in a host or a plugin
// can change it for everyone else. ProtocolVersion is left zero on purpose:
// versions are negotiated through VersionedPlugins.
func Handshake() plugin.HandshakeConfig {
	return plugin.HandshakeConfig{
		MagicCookieKey:   MagicCookieKey,
		MagicCookieValue: MagicCookieValue,
	}
}

// SupportedVersions lists the protocol versions this SDK can serve and
// consume, oldest first.
func SupportedVersions() []int { return []int{1, ProtocolVersion} }

// VersionedPlugins is the go-plugin plugin set per protocol version. A plugin
// passes its implementation; a host passes nil.
func VersionedPlugins(impl Strategy) map[int]plugin.PluginSet {
	return versionedPlugins(impl, nil)
}

// versionedPlugins is VersionedPlugins with the plugin side's count of
// in-flight calls, which Serve waits for before the process exits.
//
// Every version registers the same server: version 2 only adds an RPC and
// fields, which a version-1 host never sends. On the host side the version
// decides what the client may ask: a version-1 plugin gets no Abort.
func versionedPlugins(impl Strategy, calls *sync.WaitGroup) map[int]plugin.PluginSet {
	sets := make(map[int]plugin.PluginSet, len(SupportedVersions()))
	for _, v := range SupportedVersions() {
		sets[v] = plugin.PluginSet{PluginName: &grpcPlugin{impl: impl, version: v, calls: calls}}
	}
	return sets
}

// ErrIncompatibleVersion marks a plugin built against a protocol version this
// host does not speak.
var ErrIncompatibleVersion = errors.New("incompatible strategy protocol version")

// ExplainStartError turns go-plugin's terse handshake failures into an error
// that says which versions the host supports and what to do. Other errors are
// returned unchanged.
func ExplainStartError(binary string, err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if !strings.Contains(msg, "incompatible API version") {
		return err
	}
	versions := make([]string, 0, len(SupportedVersions()))
	for _, v := range slices.Sorted(slices.Values(SupportedVersions())) {
		versions = append(versions, fmt.Sprint(v))
	}
	return fmt.Errorf("%w: plugin %s %s; this host supports strategy protocol version(s) %s: rebuild the plugin against a matching plugins/sdk or upgrade vcr-receiver",
		ErrIncompatibleVersion, binary, pluginVersionPhrase(msg), strings.Join(versions, ", "))
}

// pluginVersionPhrase extracts "speaks version N" from go-plugin's message
// ("... Plugin version: N, Client versions: [...]").
func pluginVersionPhrase(msg string) string {
	const marker = "Plugin version: "
	i := strings.Index(msg, marker)
	if i < 0 {
		return "speaks an unknown protocol version"
	}
	rest := msg[i+len(marker):]
	if j := strings.IndexByte(rest, ','); j >= 0 {
		rest = rest[:j]
	}
	return "speaks protocol version " + strings.TrimSpace(rest)
}

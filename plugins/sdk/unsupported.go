package sdk

import (
	"errors"
	"fmt"
)

// ErrUnsupported marks a call the plugin cannot take because it was built
// for an older protocol version. errors.Is finds it in an *UnsupportedError.
var ErrUnsupported = errors.New("not supported by this plugin")

// UnsupportedError says which call a plugin lacks and which protocol version
// it negotiated. A host records it and carries on: for Abort, the recovery
// stays as Prepare left it.
type UnsupportedError struct {
	Call    string // "Abort"
	Version int    // the negotiated protocol version
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("%s is %s (protocol v%d): rebuild the plugin against plugins/sdk protocol v%d or later to get it",
		e.Call, ErrUnsupported, e.Version, sinceVersion[e.Call])
}

// Is makes errors.Is(err, ErrUnsupported) true.
func (e *UnsupportedError) Is(target error) bool { return target == ErrUnsupported }

// sinceVersion is the protocol version that introduced each call after the
// first version.
var sinceVersion = map[string]int{"Abort": 2}

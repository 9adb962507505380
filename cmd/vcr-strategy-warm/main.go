// Command vcr-strategy-warm is the warm recovery strategy as a go-plugin binary;
// vcr-receiver starts it. See plugins/warm/README.md for its settings.
package main

import (
	"github.com/vcrcovery/vcrcovery/plugins/sdk"
	"github.com/vcrcovery/vcrcovery/plugins/warm"
)

func main() { sdk.Serve(warm.Strategy{}) }

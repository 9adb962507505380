// Command vcr-strategy-scaleup is the scaleup recovery strategy as a go-plugin binary;
// vcr-receiver starts it. See plugins/scaleup/README.md for its settings.
package main

import (
	"github.com/vcrcovery/vcrcovery/plugins/scaleup"
	"github.com/vcrcovery/vcrcovery/plugins/sdk"
)

func main() { sdk.Serve(&scaleup.Strategy{}) }

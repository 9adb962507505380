// Command vcr-strategy-cold is the cold recovery strategy as a go-plugin binary;
// vcr-receiver starts it. See plugins/cold/README.md for its settings.
package main

import (
	"github.com/vcrcovery/vcrcovery/plugins/cold"
	"github.com/vcrcovery/vcrcovery/plugins/sdk"
)

func main() { sdk.Serve(cold.Strategy{}) }

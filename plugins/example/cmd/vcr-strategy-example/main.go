// Command vcr-strategy-example is the example command strategy as a plugin
// binary. vcr-receiver starts it; running it by hand only prints a hint.
package main

import (
	"github.com/vcrcovery/vcrcovery/plugins/example"
	"github.com/vcrcovery/vcrcovery/plugins/sdk"
)

func main() {
	sdk.Serve(example.Strategy{})
}

// Command host is a minimal vcr-receiver stand-in for the orphan test: it
// starts the testplug strategy through the manager, prints the plugin's PID
// and then waits to be killed.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/vcrcovery/vcrcovery/plugins/manager"
	"github.com/vcrcovery/vcrcovery/plugins/sdk"
)

func main() {
	m, err := manager.New(manager.Config{Dir: os.Args[1]})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ep, err := m.Prepare(context.Background(), "testplug", sdk.PrepareRequest{Service: "web"}, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(ep.Details["pid"])
	time.Sleep(time.Hour)
}

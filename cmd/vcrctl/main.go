// Command vcrctl is the operator's tool for vcr-receiver: where services
// run, what incidents happened and how long each phase took, drills and
// failbacks, config checks, cold-standby backups and the standby cost model.
package main

import (
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

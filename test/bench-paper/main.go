// Command bench-paper reproduces the paper's §5 experiment with real
// services: four primaries (three Apache servers on :80, one MariaDB on
// :3306, each a QEMU domain) and four containers in one standby VM (LXD),
// each at its own address. For the warm and the cold strategy it times each
// service's recovery from `virsh destroy` to the DNS switch and to the first
// successful request or query, measures the RPO of the database under
// writes, and measures the conventional system (one standby VM per service)
// in the same run. `make bench-paper` runs it; it prints a Markdown table and
// writes an SVG chart in the style of the paper's Figures 4 and 6.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/vcrcovery/vcrcovery/test/testenv"
)

func main() {
	svg := flag.String("svg", "docs/img/bench-paper.svg", "where to write the chart")
	conventional := flag.Bool("conventional", true, "also measure the conventional system (one standby VM per service)")
	flag.Parse()
	dir, err := os.MkdirTemp("", "vcr-bench-paper-")
	if err != nil {
		log.Fatal(err)
	}
	logFile, err := os.Create(filepath.Join(dir, "bench.log"))
	if err != nil {
		log.Fatal(err)
	}
	detail := log.New(logFile, "", log.LstdFlags|log.Lmicroseconds)
	r := testenv.NewRunner(dir, detail.Printf)
	defer r.Close()
	progress("details in %s", logFile.Name())
	var res results
	if err := r.Run(func() { res = bench(r, *conventional) }); err != nil {
		fmt.Fprintln(os.Stderr, "bench-paper failed:", err)
		r.Close()
		os.Exit(1)
	}
	res.printMarkdown(os.Stdout)
	if err := os.MkdirAll(filepath.Dir(*svg), 0o755); err == nil {
		err = os.WriteFile(*svg, []byte(res.chart()), 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-paper: write chart:", err)
		os.Exit(1)
	}
	progress("chart written to %s", *svg)
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench-paper: "+format+"\n", args...)
}

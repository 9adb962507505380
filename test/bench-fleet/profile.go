package main

// Where a mass failover's time goes: the receiver's CPU profile during one
// run, summarised by `go tool pprof -top` so a report can show it.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/vcrcovery/vcrcovery/test/system"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// profiler records receiver 0's CPU profile from before the alert until
// the run's end; its window is fixed when it starts, so it is given the
// longest a run may take.
// profileWindow is the longest a profiled run may take; the benchmark waits
// for it to end before the next run.
const profileWindow = 10 * time.Second

type profiler struct {
	done chan struct{}
	data []byte
	err  error
}

func startProfile(f *system.Fleet, window time.Duration) *profiler {
	p := &profiler{done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.data, p.err = f.CPUProfile(0, window)
	}()
	// The profile starts when the receiver reads the request.
	time.Sleep(200 * time.Millisecond)
	return p
}

// summary waits for the profile, keeps it under dir and returns its top
// functions by cumulative time, in the receiver's own packages and the
// libraries it calls.
func (p *profiler) summary(r *testenv.Runner, dir, name string) string {
	<-p.done
	if p.err != nil {
		return "no profile: " + p.err.Error()
	}
	path := filepath.Join(dir, name+".pprof")
	if err := os.WriteFile(path, p.data, 0o644); err != nil {
		return "no profile: " + err.Error()
	}
	out, err := exec.Command("go", "tool", "pprof", "-top", "-cum", "-nodecount=25",
		testenv.Binary(r, "vcr-receiver"), path).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("go tool pprof: %v: %s", err, out)
	}
	return fmt.Sprintf("profile %s:\n%s", path, strings.TrimSpace(string(out)))
}

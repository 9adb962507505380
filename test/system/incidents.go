package system

// Watching the receiver: its incidents, read through its API, and waiting
// for one to reach the state a test expects.

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/vcrcovery/vcrcovery/receiver/api"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// WaitIncident polls the receiver until the service has an incident that
// satisfies done, and returns it.
func (s *System) WaitIncident(t testenv.TB, name string, timeout time.Duration, done func(api.Incident) bool) api.Incident {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last []api.Incident
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		incs, err := s.Client.Incidents(ctx)
		cancel()
		if err == nil {
			last = incs
			for _, inc := range incs {
				if inc.Service == name && done(inc) {
					return inc
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("system: no matching incident for %s after %s (last error %v); incidents: %s\nreceiver log:\n%s",
				name, timeout, err, summarize(last), s.ReceiverProc.Tail(40))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Incidents returns every incident of a service.
func (s *System) Incidents(t testenv.TB, name string) []api.Incident {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	incs, err := s.Client.Incidents(ctx)
	if err != nil {
		t.Fatalf("system: list incidents: %v", err)
	}
	var out []api.Incident
	for _, inc := range incs {
		if inc.Service == name {
			out = append(out, inc)
		}
	}
	return out
}

// Ended reports whether an incident reached an end state.
func Ended(inc api.Incident) bool { return !inc.State.Running() }

func summarize(incs []api.Incident) string {
	var b strings.Builder
	for _, inc := range incs {
		fmt.Fprintf(&b, "\n  %s %s %s %s", inc.ID, inc.Service, inc.State, inc.Error)
	}
	return b.String()
}

package pipeline

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/vcrcovery/vcrcovery/receiver/api"
	"github.com/vcrcovery/vcrcovery/receiver/config"
)

// Fencer makes sure a primary domain is not running (receiver/live: libvirt).
type Fencer interface {
	// Fence destroys the domain (by UUID if set, else by name) on host and
	// says what happened in plain words ("destroyed", "already shut off",
	// "not defined on the host"). It returns an error wrapping
	// ErrHostUnreachable when the host's libvirtd cannot be reached.
	Fence(ctx context.Context, host config.Host, domain, uuid string) (string, error)
}

// ErrHostUnreachable marks fencing failures where the host did not answer at
// all; the fence stage then waits out the grace period instead of retrying.
var ErrHostUnreachable = errors.New("libvirt host unreachable")

// Fence makes sure the failed primary is down before anything else takes
// its name: it destroys the domain through libvirt, or, when the host
// cannot be reached, waits the grace period. An unfenced primary that still
// answers on its service port stops the incident in needs-attention
// (split-brain guard) unless the service allows switching anyway.
type Fence struct {
	Fencer Fencer
	Prober Prober // the split-brain guard's probe of the primary
	Clock  Clock
}

func (Fence) Phase() string    { return api.PhaseFence }
func (Fence) State() api.State { return api.StateFencing }

func (f Fence) Exec(ctx context.Context, a Attempt) error {
	svc := a.Service
	pr := svc.Primary
	fenced := false
	switch {
	case pr.Host.Socket == "":
		a.Note("no libvirt host configured for the primary; waiting the grace period " + svc.Fencing.Grace().String())
		if err := f.Clock.Sleep(ctx, svc.Fencing.Grace()); err != nil {
			return err
		}
	case f.Fencer == nil:
		return errors.New("no fencer available in this receiver")
	default:
		fctx, cancel := context.WithTimeout(ctx, a.Config.Pipeline.FenceTimeout)
		what, err := f.Fencer.Fence(fctx, pr.Host, pr.Domain, pr.UUID)
		cancel()
		switch {
		case err == nil:
			fenced = true
			a.Note("primary " + domainLabel(pr) + ": " + what)
		case errors.Is(err, ErrHostUnreachable):
			a.Note(fmt.Sprintf("host unreachable (%v); waiting the grace period %s", err, svc.Fencing.Grace()))
			if err := f.Clock.Sleep(ctx, svc.Fencing.Grace()); err != nil {
				return err
			}
		default:
			return fmt.Errorf("fence %s: %w", domainLabel(pr), err)
		}
	}
	if fenced {
		return nil
	}
	// Split-brain guard: an unfenced primary that still answers must not
	// lose its name to a second copy.
	addr := hostPort(pr.Address, pr.Port)
	if f.Prober == nil {
		return errors.New("no prober available for the split-brain guard")
	}
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	answers := f.Prober.Once(pctx, Check{Address: pr.Address, Port: pr.Port}) == nil
	cancel()
	switch {
	case !answers:
		a.Note("primary does not answer on " + addr + "; safe to switch")
	case a.Incident.Force:
		a.Note("primary still answers on " + addr + " but the operator forced this failover; switching anyway")
	case svc.Fencing.AllowSwitchWhilePrimaryAnswers:
		a.Note("primary still answers on " + addr + " but fencing.allow_switch_while_primary_answers is set; switching anyway")
	default:
		return &Stop{State: api.StateNeedsAttention, Msg: "the primary " + domainLabel(pr) + " could not be fenced and still answers on " + addr +
			"; not switching, to avoid two copies serving. Check the primary and stop it if it must go, then acknowledge this incident and run `vcrctl failover " +
			svc.Name + "`; to switch while it still answers, run `vcrctl failover " + svc.Name + " --force`"}
	}
	return nil
}

func (Fence) Describe(run Intent) string {
	svc := run.Service
	pr := svc.Primary
	addr := hostPort(pr.Address, pr.Port)
	guard := "stop in needs-attention if the primary still answers on " + addr
	switch {
	case run.Force:
		guard = "switch even if the primary still answers on " + addr + " (forced)"
	case svc.Fencing.AllowSwitchWhilePrimaryAnswers:
		guard = "switch even if the primary still answers on " + addr + " (fencing.allow_switch_while_primary_answers)"
	}
	grace := svc.Fencing.Grace().String()
	if pr.Host.Socket == "" {
		return "no libvirt host is configured for the primary " + domainLabel(pr) + ": wait the grace period " + grace + ", then " + guard
	}
	return "destroy the primary " + domainLabel(pr) + " through libvirt" + onHost(pr.Host) + "; if the host cannot be reached, wait the grace period " + grace + ", then " + guard
}

func onHost(h config.Host) string {
	if h.Name == "" {
		return ""
	}
	return " on " + h.Name
}

func domainLabel(pr config.Primary) string {
	if pr.Domain != "" {
		return pr.Domain
	}
	return pr.UUID
}

func hostPort(addr string, port int) string {
	return net.JoinHostPort(addr, strconv.Itoa(port))
}

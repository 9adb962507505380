package inventory

import (
	"context"
	"errors"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"

	"github.com/vcrcovery/vcrcovery/exporter/lifecycle"
)

// Job is the last answer of virDomainGetJobStats for a running domain.
//
// Why a per-domain call at all: no stats group of virConnectGetAllDomainStats
// carries the job (libvirt 9 to 11; "dirtyrate" is the guest's page dirtying
// rate, not migration progress), and lifecycle events say nothing when a
// live migration starts. So every running domain is asked once per
// --libvirt.job-interval, in the background and one call at a time (a
// domain without a job answers from libvirtd's memory, without touching
// QEMU), and a domain found with a job is asked again at every refresh
// until it has none.
type Job struct {
	Type      int32 // virDomainJobType: 0 none, 1 bounded, 2 unbounded, 3 completed, 4 failed, 5 cancelled
	Operation int32 // virDomainJobOperation: 4 migration in, 5 migration out, 2 save, 8 dump, 9 backup, ...
	// Values holds the typed parameters by name (time_elapsed, data_total,
	// data_processed, data_remaining, memory_*, disk_*, downtime, ...).
	Values map[string]float64
	At     time.Time
}

// Active reports whether the job is still running.
func (j Job) Active() bool {
	return j.Type == int32(libvirt.DomainJobBounded) || j.Type == int32(libvirt.DomainJobUnbounded)
}

// Job returns the last job answer of a running domain.
func (inv *Inventory) Job(uuid string) (Job, bool) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	j, ok := inv.jobs[uuid]
	return j, ok
}

func (inv *Inventory) refreshJobs(ctx context.Context, c Client, doms []Domain, now time.Time) {
	inv.mu.Lock()
	if inv.jobsBroken {
		inv.mu.Unlock()
		return
	}
	sweep := now.Sub(inv.lastSweep) >= inv.opts.JobInterval
	if sweep {
		inv.lastSweep = now
	}
	var due []Domain
	running := make(map[string]bool, len(doms))
	for _, d := range doms {
		if !d.Running {
			continue
		}
		running[d.UUID] = true
		if j, ok := inv.jobs[d.UUID]; sweep || ok && j.Active() {
			due = append(due, d)
		}
	}
	for uuid := range inv.jobs {
		if !running[uuid] {
			delete(inv.jobs, uuid)
		}
	}
	inv.mu.Unlock()

	for _, d := range due {
		if ctx.Err() != nil {
			return
		}
		type answer struct {
			typ    int32
			params []libvirt.TypedParam
		}
		a, err := call(ctx, inv.opts.CallTimeout, func() (answer, error) {
			t, p, err := c.DomainGetJobStats(d.Dom, 0)
			return answer{t, p}, err
		})
		if err != nil {
			if isUnsupported(err) {
				inv.opts.Logger.Info("this libvirt driver reports no domain jobs; vcr_domain_job_* stay empty", "err", err)
				inv.mu.Lock()
				inv.jobsBroken = true
				inv.mu.Unlock()
				return
			}
			continue // the domain stopped or vanished: the next scrape says so
		}
		j := Job{Type: a.typ, At: now}
		if j.Active() {
			j.Values = make(map[string]float64, len(a.params))
			for _, p := range a.params {
				if p.Field == libvirt.DomainJobOperationStr {
					j.Operation = int32(lifecycle.ParamFloat(p.Value))
					continue
				}
				j.Values[p.Field] = lifecycle.ParamFloat(p.Value)
			}
		}
		inv.mu.Lock()
		inv.jobs[d.UUID] = j
		inv.mu.Unlock()
	}
}

// isUnsupported reports libvirt's VIR_ERR_NO_SUPPORT (3): the driver does
// not implement the call at all.
func isUnsupported(err error) bool {
	var e libvirt.Error
	return errors.As(err, &e) && e.Code == uint32(libvirt.ErrNoSupport)
}

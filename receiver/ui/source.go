package ui

import (
	"context"
	"errors"
	"net/http"

	"github.com/vcrcovery/vcrcovery/cost"
	"github.com/vcrcovery/vcrcovery/receiver/api"
)

// ErrUnsupported is what a Source answers for data it cannot provide, for
// example standby load when it has no LXD access. The page then leaves the
// section out instead of showing an error.
var ErrUnsupported = errors.New("not available from this source")

// Source is where the page gets its data. Every call gets the request's
// context; an error shows as a notice in that section, the rest of the page
// still renders.
type Source interface {
	Services(ctx context.Context) ([]api.ServiceStatus, error)
	// Incidents returns the incidents to show, newest first: the receiver
	// gives a page of the newest and every open one, never its whole
	// history.
	Incidents(ctx context.Context) ([]api.Incident, error)
	// Incident returns one incident, however old; ok is false when there
	// is none.
	Incident(ctx context.Context, id string) (inc api.Incident, ok bool, err error)
	// Standby returns the standby VMs and their containers.
	Standby(ctx context.Context) ([]StandbyVM, error)
	// Cost returns the cost model, or nil when none is configured. incidents
	// are the ones the page already fetched, for measured recovery times.
	Cost(ctx context.Context, incidents []api.Incident) (*cost.Report, error)
	// Maintenance returns the maintenance windows that hold or ended within
	// the last day, with the alerts they declined.
	Maintenance(ctx context.Context) ([]api.Maintenance, error)
	// Capacity returns the pre-flight view (receiver/capacity).
	Capacity(ctx context.Context) (*api.Capacity, error)
}

// StandbyVM is one LXD daemon standing in for a standby (or bigger) VM.
type StandbyVM struct {
	// Name is the lxd_remotes key, for example "standby" or "bigger".
	Name string `json:"name"`
	// Address is the loopback or VM address the remote's services use.
	Address    string      `json:"address,omitempty"`
	Containers []Container `json:"containers"`
	// Error says why the VM could not be read, in plain words.
	Error string `json:"error,omitempty"`
}

// Container is one instance on a standby VM and its load.
type Container struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	// CPUPercent is the CPU used since the previous sample, in percent of
	// one CPU; negative when there is no previous sample yet.
	CPUPercent  float64 `json:"cpu_percent"`
	CPUSeconds  float64 `json:"cpu_seconds"`
	MemoryBytes int64   `json:"memory_bytes"`
	Processes   int64   `json:"processes"`
}

// Funcs builds a Source from functions, which is how the receiver wires its
// own methods in. A nil function means the data is unsupported.
type Funcs struct {
	ServicesFunc  func(ctx context.Context) ([]api.ServiceStatus, error)
	IncidentsFunc func(ctx context.Context) ([]api.Incident, error)
	// IncidentFunc reads one incident; nil looks for it among Incidents.
	IncidentFunc func(ctx context.Context, id string) (api.Incident, bool, error)
	StandbyFunc  func(ctx context.Context) ([]StandbyVM, error)
	// MaintenanceFunc lists the maintenance windows.
	MaintenanceFunc func(ctx context.Context) ([]api.Maintenance, error)
	// CostConfig returns the current cost config, nil when none.
	CostConfig func() *cost.Config
	// CapacityFunc returns the pre-flight view.
	CapacityFunc func(ctx context.Context) (*api.Capacity, error)
}

// Capacity implements Source.
func (f Funcs) Capacity(ctx context.Context) (*api.Capacity, error) {
	if f.CapacityFunc == nil {
		return nil, ErrUnsupported
	}
	return f.CapacityFunc(ctx)
}

// Services implements Source.
func (f Funcs) Services(ctx context.Context) ([]api.ServiceStatus, error) {
	if f.ServicesFunc == nil {
		return nil, ErrUnsupported
	}
	return f.ServicesFunc(ctx)
}

// Incidents implements Source.
func (f Funcs) Incidents(ctx context.Context) ([]api.Incident, error) {
	if f.IncidentsFunc == nil {
		return nil, ErrUnsupported
	}
	return f.IncidentsFunc(ctx)
}

// Incident implements Source.
func (f Funcs) Incident(ctx context.Context, id string) (api.Incident, bool, error) {
	if f.IncidentFunc != nil {
		return f.IncidentFunc(ctx, id)
	}
	incs, err := f.Incidents(ctx)
	if err != nil {
		return api.Incident{}, false, err
	}
	for _, inc := range incs {
		if inc.ID == id {
			return inc, true, nil
		}
	}
	return api.Incident{}, false, nil
}

// Standby implements Source.
func (f Funcs) Standby(ctx context.Context) ([]StandbyVM, error) {
	if f.StandbyFunc == nil {
		return nil, ErrUnsupported
	}
	return f.StandbyFunc(ctx)
}

// Maintenance implements Source.
func (f Funcs) Maintenance(ctx context.Context) ([]api.Maintenance, error) {
	if f.MaintenanceFunc == nil {
		return nil, ErrUnsupported
	}
	return f.MaintenanceFunc(ctx)
}

// Cost implements Source: the configured model with the recovery times
// measured from incidents.
func (f Funcs) Cost(_ context.Context, incidents []api.Incident) (*cost.Report, error) {
	if f.CostConfig == nil {
		return nil, nil
	}
	cfg := f.CostConfig()
	if cfg == nil {
		return nil, nil
	}
	return cost.Compute(cfg, cost.RecoveryTimes(incidents)), nil
}

// FromClient reads services and incidents from a receiver's API, for
// serving the page outside the receiver (vcrctl ui, tests). Set StandbyFunc
// and CostConfig on the result to show those sections too.
func FromClient(c *api.Client) Funcs {
	return Funcs{ServicesFunc: c.Services, IncidentsFunc: c.Incidents, MaintenanceFunc: c.Maintenance,
		IncidentFunc: func(ctx context.Context, id string) (api.Incident, bool, error) {
			inc, err := c.Incident(ctx, id)
			var se *api.StatusError
			if errors.As(err, &se) && se.Code == http.StatusNotFound {
				return inc, false, nil
			}
			return inc, err == nil, err
		}}
}

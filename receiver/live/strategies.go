package live

import (
	"context"
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vcrcovery/vcrcovery/plugins/manager"
	"github.com/vcrcovery/vcrcovery/plugins/sdk"
	"github.com/vcrcovery/vcrcovery/receiver/pipeline"
)

// Strategies runs strategy plugins (plugins/manager) and counts the calls
// that cost a plugin its process: it timed out, exited, or lost its
// connection, and the manager starts a new one for the next call. Calls it
// does not override (any the pipeline adds later) go straight through.
type Strategies struct {
	pipeline.Strategies
	restarts *prometheus.CounterVec
}

// CountRestarts wraps s and registers vcr_plugin_restarts_total on reg
// (nil: none).
func CountRestarts(s pipeline.Strategies, reg prometheus.Registerer) *Strategies {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vcr_plugin_restarts_total",
		Help: "Strategy plugin processes replaced after a call, by strategy and reason (timeout, exited, connection).",
	}, []string{"strategy", "reason"})
	if reg != nil {
		reg.MustRegister(c)
	}
	return &Strategies{Strategies: s, restarts: c}
}

// Prepare implements pipeline.Strategies.
func (s *Strategies) Prepare(ctx context.Context, name string, req sdk.PrepareRequest, progress sdk.ProgressFunc) (sdk.Endpoint, error) {
	ep, err := s.Strategies.Prepare(ctx, name, req, progress)
	s.count(name, err)
	return ep, err
}

// Finalize implements pipeline.Strategies.
func (s *Strategies) Finalize(ctx context.Context, name string, req sdk.FinalizeRequest) error {
	err := s.Strategies.Finalize(ctx, name, req)
	s.count(name, err)
	return err
}

// Abort implements pipeline.Strategies. A protocol-1 plugin's
// sdk.ErrUnsupported never reaches the plugin, so it is no restart.
func (s *Strategies) Abort(ctx context.Context, name string, req sdk.AbortRequest) error {
	err := s.Strategies.Abort(ctx, name, req)
	s.count(name, err)
	return err
}

// ValidateConfig implements pipeline.Strategies.
func (s *Strategies) ValidateConfig(ctx context.Context, name string, req sdk.ValidateRequest) error {
	err := s.Strategies.ValidateConfig(ctx, name, req)
	s.count(name, err)
	return err
}

func (s *Strategies) count(name string, err error) {
	if reason := restartReason(err); reason != "" {
		s.restarts.WithLabelValues(name, reason).Inc()
	}
}

// restartReason says why a failed call cost the plugin its process, in the
// manager's terms; "" when it did not.
func restartReason(err error) string {
	var te *sdk.TransportError
	switch {
	case err == nil:
		return ""
	case errors.Is(err, manager.ErrPluginTimeout):
		return "timeout"
	case errors.Is(err, manager.ErrPluginExited):
		return "exited"
	case errors.As(err, &te):
		return "connection"
	}
	return ""
}

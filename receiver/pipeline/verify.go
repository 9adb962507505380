package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/vcrcovery/vcrcovery/receiver/api"
	"github.com/vcrcovery/vcrcovery/receiver/config"
)

// Check is one readiness check of an endpoint.
type Check struct {
	Address      string
	Port         int
	HTTPPath     string
	ExpectStatus int
	// MySQL, when set, makes the check a login and a query.
	MySQL *config.MySQLCheck
}

// Prober checks endpoints (receiver/live: package probe).
type Prober interface {
	// Once tries once: nil means the endpoint answers.
	Once(ctx context.Context, c Check) error
	// Wait retries until the endpoint answers or ctx ends.
	Wait(ctx context.Context, c Check) error
}

// Verify probes the endpoint prepare recorded (TCP connect, or the
// service's HTTP check) until it is ready or check.timeout passes.
type Verify struct {
	Prober Prober
}

func (Verify) Phase() string    { return api.PhaseVerify }
func (Verify) State() api.State { return api.StateVerifying }

func (v Verify) Exec(ctx context.Context, a Attempt) error {
	inc, svc := a.Incident, a.Service
	if inc.Endpoint == nil {
		return &Stop{State: api.StateFailed, Msg: "verify: no endpoint recorded by prepare"}
	}
	c := Check{Address: inc.Endpoint.Address, Port: inc.Endpoint.Port, HTTPPath: svc.Check.HTTPPath, ExpectStatus: svc.Check.ExpectStatus, MySQL: svc.Check.MySQL}
	if svc.Check.Port != 0 {
		c.Port = svc.Check.Port
	}
	if v.Prober == nil {
		return errors.New("no prober available in this receiver")
	}
	vctx, cancel := context.WithTimeout(ctx, svc.Check.Timeout)
	defer cancel()
	if err := v.Prober.Wait(vctx, c); err != nil {
		return fmt.Errorf("endpoint %s not ready: %w", hostPort(c.Address, c.Port), err)
	}
	a.Note("endpoint " + hostPort(c.Address, c.Port) + " ready (" + checkWords(svc.Check) + ")")
	return nil
}

func (Verify) Describe(run Intent) string {
	ch := run.Service.Check
	port := "the endpoint's port"
	if ch.Port != 0 {
		port = "port " + strconv.Itoa(ch.Port)
	}
	return "check the endpoint on " + port + " (" + checkWords(ch) + ") until it is ready, for up to " + ch.Timeout.String()
}

// checkWords names a readiness check: a TCP connect, an HTTP GET or a
// MySQL query.
func checkWords(ch config.Check) string {
	switch {
	case ch.MySQL != nil:
		q := ch.MySQL.Query
		if q == "" {
			q = "SELECT 1"
		}
		return "MySQL query " + strconv.Quote(q) + " as " + ch.MySQL.User
	case ch.HTTPPath == "":
		return "TCP connect"
	}
	return "HTTP GET " + ch.HTTPPath + " = " + strconv.Itoa(ch.ExpectStatus)
}

package fastpath

import (
	"fmt"
	"time"

	"github.com/vcrcovery/vcrcovery/exporter/failure"
	"github.com/vcrcovery/vcrcovery/internal/virt"
)

// PostableAlert is one element of the JSON array Alertmanager's
// POST /api/v2/alerts accepts.
type PostableAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt,omitempty"`
	EndsAt       time.Time         `json:"endsAt,omitempty"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// BuildAlert is the fast path's alert for a failed domain. Its label set is
// exactly the rule path's ({alertname, severity, domain, uuid, host,
// cloud}), so Alertmanager merges the two into one alert; where it came
// from is an annotation.
func BuildAlert(ev failure.DomainEvent, alertname, generatorURL string) PostableAlert {
	what := "shut off"
	if alertname == failure.AlertCrashed {
		what = "crashed"
	}
	state := ""
	if ev.State >= 0 {
		state = virt.StateName(ev.State)
	}
	return PostableAlert{
		Labels: map[string]string{
			"alertname": alertname, "severity": "critical",
			"domain": ev.Domain, "uuid": ev.UUID, "host": ev.Host, "cloud": ev.Cloud,
		},
		Annotations: map[string]string{
			"summary": fmt.Sprintf("Domain %s on %s (%s) %s", ev.Domain, ev.Host, ev.Cloud, what),
			"description": fmt.Sprintf("%s reported %s/%s for domain %s (uuid %s) at %s; pushed by vcr-exporter's fast path.",
				sourceName(ev.Source), ev.Event, ev.Detail, ev.Domain, ev.UUID, ev.At.UTC().Format(time.RFC3339Nano)),
			"source": "fastpath",
			"origin": ev.Source,
			"event":  ev.Event + "/" + ev.Detail,
			"state":  state,
		},
		StartsAt:     ev.At,
		GeneratorURL: generatorURL,
	}
}

func sourceName(s string) string {
	switch s {
	case "snmp":
		return "A libvirt-snmp trap"
	case "reconcile":
		return "Reconciliation after reconnecting to libvirt"
	}
	return "libvirt"
}

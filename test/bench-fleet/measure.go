package main

// What one run measures: the alert→switch times of every service, the
// receivers' CPU and memory, the journal's size, and the counts proving
// each service was recovered exactly once.

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vcrcovery/vcrcovery/cost"
	"github.com/vcrcovery/vcrcovery/receiver/api"
)

// result is one point of the curve.
type result struct {
	series string // e.g. "example, 1 receiver"
	n      int
	// first and last are the times from the alert reaching the receiver
	// to the first and the last DNS switch; p50 and p90 are the services'
	// detect→switch.
	first, last, p50, p90 time.Duration
	cpu                   time.Duration // the receivers' CPU time during the run
	rss                   int64         // the largest receiver's peak RSS
	journal               int64         // bytes of the journal
	failed                int           // incidents that did not resolve
	notOnce               int           // services not prepared and switched exactly once
	profile               string        // the receiver's CPU profile, summarised (empty: none)
}

// switchTimes computes first, last and the detect→switch percentiles of
// the incidents, from the alert's arrival at t0.
func switchTimes(res *result, incs []api.Incident, t0 time.Time) {
	var at, d2s []time.Duration
	for i := range incs {
		inc := &incs[i]
		if inc.State != api.StateResolved || inc.DNS == nil || inc.DNS.SwitchedAt == nil {
			res.failed++
			continue
		}
		at = append(at, inc.DNS.SwitchedAt.Sub(t0))
		if d, ok := cost.DetectToSwitch(inc); ok {
			d2s = append(d2s, d)
		}
	}
	if len(at) == 0 {
		return
	}
	slices.Sort(at)
	res.first, res.last = at[0], at[len(at)-1]
	res.p50, res.p90 = pct(d2s, 0.5), pct(d2s, 0.9)
}

// onceEach counts the services not prepared and not switched exactly once.
func onceEach(services []string, prepares map[string]int, updates map[string]int, zone string) int {
	bad := 0
	for _, s := range services {
		if prepares[s] != 1 || updates[s+"."+zone] != 1 {
			bad++
		}
	}
	return bad
}

func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[int(p*float64(len(s)-1)+0.5)]
}

// median returns the run whose last switch is the median of the runs.
func median(rs []result) result {
	s := slices.Clone(rs)
	slices.SortFunc(s, func(a, b result) int { return int(a.last - b.last) })
	return s[len(s)/2]
}

// clockTick is the kernel's USER_HZ: /proc reports CPU time in 1/100 s on
// every Linux architecture Go supports here.
const clockTick = 10 * time.Millisecond

// procCPU is the CPU time (user and system) a process used so far.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces; the rest follows ")".
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * clockTick
}

// peakRSS is a process's resident set high-water mark in bytes.
func peakRSS(pid int) int64 {
	fh, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// metric reads one unlabelled metric from a receiver's /metrics.
func metric(url, name string) float64 {
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}

// phaseSummary says, per phase, the median and slowest duration and how
// many incidents needed more than one attempt: where a slow run spent its
// time.
func phaseSummary(incs []api.Incident) string {
	var b strings.Builder
	for _, name := range api.PhaseNames[1:] {
		var d []time.Duration
		retried := 0
		for i := range incs {
			if p := incs[i].Phase(name); p != nil {
				d = append(d, time.Duration(p.DurationSeconds*float64(time.Second)))
				if p.Attempts > 1 {
					retried++
				}
			}
		}
		fmt.Fprintf(&b, " %s p50 %s max %s retried %d;", name, pct(d, 0.5).Round(time.Millisecond), pct(d, 1).Round(time.Millisecond), retried)
	}
	for i := range incs {
		for _, p := range incs[i].Phases {
			if p.Attempts > 1 {
				fmt.Fprintf(&b, " first retried: %s %s: %q", incs[i].Service, p.Name, p.Messages)
				return b.String()
			}
		}
	}
	return b.String()
}

// postBearer posts a webhook body with a bearer token and returns the
// status code (0: the request failed).
func postBearer(url, token, body string) int {
	req, _ := http.NewRequest(http.MethodPost, url+"/api/v1/alerts", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

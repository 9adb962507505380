package ui

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vcrcovery/vcrcovery/cost"
	"github.com/vcrcovery/vcrcovery/internal/humanize"
	"github.com/vcrcovery/vcrcovery/receiver/api"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Options tune the page. The zero value is fine.
type Options struct {
	// Title heads the page; empty means "VCRcovery".
	Title string
	// APIBase is prefixed to the API paths the action forms post to; empty
	// means the same origin (the receiver serving the page).
	APIBase string
	// RecentIncidents bounds the closed incidents shown; 0 means 10.
	RecentIncidents int
	// Refresh is how often the script reloads the data; 0 means 5 s,
	// negative turns it off.
	Refresh time.Duration
	// ReadOnly hides the action forms.
	ReadOnly bool
	// Timeout bounds gathering the data for one page; 0 means 10 s.
	Timeout time.Duration
	Logger  *slog.Logger
	// Now is the clock, for tests; nil means time.Now.
	Now func() time.Time
}

type handler struct {
	src  Source
	opts Options
	tmpl *template.Template
}

// New returns the status page handler. Mount it at "/": it serves "/",
// "/incidents/{id}", "/confirm" and "/static/", and 404 elsewhere.
func New(src Source, opts Options) http.Handler {
	if opts.Title == "" {
		opts.Title = "VCRcovery"
	}
	if opts.RecentIncidents == 0 {
		opts.RecentIncidents = 10
	}
	if opts.Refresh == 0 {
		opts.Refresh = 5 * time.Second
	}
	if opts.Timeout == 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	opts.APIBase = strings.TrimRight(opts.APIBase, "/")
	h := &handler{src: src, opts: opts, tmpl: parseTemplates()}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", h.index)
	mux.HandleFunc("GET /incidents/{id}", h.incident)
	mux.HandleFunc("GET /confirm", h.confirm)
	static, _ := fs.Sub(staticFS, "static") // embedded: cannot fail
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServer(http.FS(static))))
	return mux
}

func parseTemplates() *template.Template {
	funcs := template.FuncMap{
		"usd":     cost.USD,
		"usdRate": cost.USDRate,
		"bytes":   fmtBytes,
		"pct": func(v float64) string {
			if v < 0 {
				return "—"
			}
			return fmtFloat(v) + "%"
		},
		"pathesc": url.PathEscape,
		"cpusecs": func(v float64) string { return humanize.Duration(time.Duration(v * float64(time.Second))) },
		"join":    strings.Join,
		"cpus":    humanize.VCPUs,
		"secs":    func(v float64) string { return humanize.Duration(time.Duration(v * float64(time.Second))) },
		"incArgs": func(inc any, p page) (incArgs, error) {
			switch v := inc.(type) {
			case incidentView:
				return incArgs{Inc: v, Page: p}, nil
			case *incidentView:
				return incArgs{Inc: *v, Page: p}, nil
			}
			return incArgs{}, errors.New("incArgs: not an incident")
		},
		"ackArgs": func(inc incidentView, p page) ackArgs {
			return ackArgs{ID: inc.ID, Service: inc.Service, APIBase: p.APIBase}
		},
	}
	return template.Must(template.New("").Funcs(funcs).ParseFS(templateFS, "templates/*.html"))
}

// page is what every template gets.
type page struct {
	Title    string
	Heading  string
	Now      string
	Refresh  int // seconds; 0 off
	ReadOnly bool
	APIBase  string
	Services []serviceView
	SvcErr   string
	Events   []eventView // mass events: one block each, their incidents not listed again
	Open     []incidentView
	Recent   []incidentView
	IncErr   string
	Standby  []standbyView
	StdErr   string
	HasStdby bool
	Cost     *costView
	CostErr  string
	// Maintenance windows; HasMaint is false when the source has none.
	Maintenance []maintenanceView
	MaintErr    string
	HasMaint    bool
	Capacity    *api.Capacity
	CapErr      string
	Incident    *incidentView // detail page
	Confirm     *confirmView
	NotFound    string
	AllClosed   int
}

type incArgs struct {
	Inc  incidentView
	Page page
}

type ackArgs struct{ ID, Service, APIBase string }

type serviceView struct {
	api.ServiceStatus
	OpenState string
	Buttons   []actionView
	// MaintenanceUntil is the end of the window that covers the service.
	MaintenanceUntil string
}

type standbyView struct {
	StandbyVM
	Running int
}

type costView struct {
	*cost.Report
	Bars []costBar
}

type costBar struct {
	Name, Annual, Width string
	VCR                 bool
}

func (h *handler) base(title string) page {
	p := page{Title: h.opts.Title, Heading: title, Now: h.opts.Now().UTC().Format("2006-01-02 15:04:05 MST"),
		ReadOnly: h.opts.ReadOnly, APIBase: h.opts.APIBase}
	if h.opts.Refresh > 0 {
		p.Refresh = int(h.opts.Refresh / time.Second)
		if p.Refresh == 0 {
			p.Refresh = 1
		}
	}
	return p
}

func (h *handler) index(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.Timeout)
	defer cancel()
	now := h.opts.Now()
	p := h.base("Status")

	// The sources are independent; fetch them together so one slow LXD
	// daemon does not add to the receiver's own answers.
	var (
		wg       sync.WaitGroup
		svcs     []api.ServiceStatus
		incs     []api.Incident
		standby  []StandbyVM
		windows  []api.Maintenance
		svcErr   error
		incErr   error
		stdErr   error
		maintErr error
	)
	wg.Add(4)
	go func() { defer wg.Done(); svcs, svcErr = h.src.Services(ctx) }()
	go func() { defer wg.Done(); incs, incErr = h.src.Incidents(ctx) }()
	go func() { defer wg.Done(); standby, stdErr = h.src.Standby(ctx) }()
	go func() { defer wg.Done(); windows, maintErr = h.src.Maintenance(ctx) }()
	wg.Wait()
	switch {
	case errors.Is(maintErr, ErrUnsupported):
	case maintErr != nil:
		p.HasMaint, p.MaintErr = true, h.problem("maintenance windows", maintErr)
	default:
		p.HasMaint = true
		for _, w := range windows {
			p.Maintenance = append(p.Maintenance, newMaintenanceView(w, now))
		}
	}
	until := inMaintenance(windows)

	if svcErr != nil {
		p.SvcErr = h.problem("services", svcErr)
	}
	if incErr != nil {
		p.IncErr = h.problem("incidents", incErr)
	}
	// Newest first, whatever order the source keeps; sort a copy, since
	// the source may hand out a slice it shares.
	incs = slices.Clone(incs)
	sort.SliceStable(incs, func(i, j int) bool { return incs[i].OpenedAt.After(incs[j].OpenedAt) })
	openBy := map[string]api.State{}
	inEvent := map[string]bool{}
	for _, e := range api.MassEvents(incs) {
		p.Events = append(p.Events, newEventView(e, now))
		inEvent[e.ID] = true
	}
	for i := range incs {
		v := newIncidentView(&incs[i], now)
		if v.Open {
			openBy[incs[i].Service] = incs[i].State
		}
		switch {
		case inEvent[incs[i].Event]:
			// shown in its mass event's block
		case v.Open:
			p.Open = append(p.Open, v)
		case len(p.Recent) < h.opts.RecentIncidents:
			p.Recent = append(p.Recent, v)
		default:
			p.AllClosed++
		}
	}
	for _, s := range svcs {
		sv := serviceView{ServiceStatus: s, OpenState: string(openBy[s.Name]), MaintenanceUntil: until[s.Name]}
		for _, plan := range s.Actions {
			if av, ok := h.actionOf(plan); ok {
				sv.Buttons = append(sv.Buttons, av)
			}
		}
		p.Services = append(p.Services, sv)
	}
	switch {
	case errors.Is(stdErr, ErrUnsupported):
	case stdErr != nil:
		p.HasStdby, p.StdErr = true, h.problem("standby VMs", stdErr)
	default:
		p.HasStdby = true
		for _, vm := range standby {
			sv := standbyView{StandbyVM: vm}
			for _, c := range vm.Containers {
				if strings.EqualFold(c.Status, "running") {
					sv.Running++
				}
			}
			p.Standby = append(p.Standby, sv)
		}
	}
	h.capacity(ctx, &p)
	rep, err := h.src.Cost(ctx, incs)
	if err != nil {
		p.CostErr = h.problem("cost model", err)
	} else if rep != nil {
		p.Cost = newCostView(rep)
	}
	h.render(w, http.StatusOK, "index.html", p)
}

func newCostView(r *cost.Report) *costView {
	v := &costView{Report: r}
	var top float64
	for _, m := range r.Models {
		top = max(top, m.AnnualUSD)
	}
	for _, m := range r.Models {
		w := 0.0
		if top > 0 {
			w = max(m.AnnualUSD/top*100, 0.5)
		}
		v.Bars = append(v.Bars, costBar{Name: m.Name, Annual: cost.USD(m.AnnualUSD), Width: fmtFloat(w), VCR: m.Baseline != ""})
	}
	return v
}

func (h *handler) incident(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.Timeout)
	defer cancel()
	id := r.PathValue("id")
	p := h.base("Incident " + id)
	inc, ok, err := h.src.Incident(ctx, id)
	if err != nil {
		p.IncErr = h.problem("incidents", err)
		h.render(w, http.StatusBadGateway, "incident.html", p)
		return
	}
	if ok {
		v := newIncidentView(&inc, h.opts.Now())
		p.Incident = &v
		h.render(w, http.StatusOK, "incident.html", p)
		return
	}
	p.NotFound = id
	h.render(w, http.StatusNotFound, "incident.html", p)
}

func (h *handler) problem(what string, err error) string {
	h.opts.Logger.Warn("status page: cannot read "+what, "err", err)
	return "Cannot read the " + what + ": " + err.Error()
}

func (h *handler) render(w http.ResponseWriter, code int, name string, p page) {
	var buf bytes.Buffer
	if err := h.tmpl.ExecuteTemplate(&buf, name, p); err != nil {
		h.opts.Logger.Error("status page template failed", "template", name, "err", err)
		http.Error(w, "The status page could not be rendered; the API at /api/v1/ still works. See the receiver's log.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

// fmtFloat prints one decimal at most: 12.5, 3, 0.
func fmtFloat(v float64) string {
	s := strconv.FormatFloat(v, 'f', 1, 64)
	return strings.TrimSuffix(s, ".0")
}

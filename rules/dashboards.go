package rules

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
)

// DatasourceUID is the uid of the Prometheus datasource provisioned by
// deploy/grafana/provisioning/datasources/vcrcovery.yml: the default of each dashboard's
// datasource variable.
const DatasourceUID = "vcr-prometheus"

// DatasourceVariable is what every panel and query variable names as its datasource: the
// dashboard's `datasource` variable (type datasource, query prometheus), so that a dashboard
// imported into a Grafana whose Prometheus has another uid works after picking it.
const DatasourceVariable = "${datasource}"

// Dashboard is the part of a Grafana dashboard JSON model VCRcovery checks.
type Dashboard struct {
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []Panel `json:"panels"`
	Templating    struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Datasource *Datasource     `json:"datasource"`
			Query      json.RawMessage `json:"query"`
			Current    struct {
				Value json.RawMessage `json:"value"`
			} `json:"current"`
		} `json:"list"`
	} `json:"templating"`
}

// Panel is one dashboard panel (rows have no targets).
type Panel struct {
	ID         int         `json:"id"`
	Type       string      `json:"type"`
	Title      string      `json:"title"`
	Datasource *Datasource `json:"datasource"`
	GridPos    *struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []Target `json:"targets"`
}

// Datasource references a datasource by uid.
type Datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// Target is one query of a panel.
type Target struct {
	RefID   string `json:"refId"`
	Expr    string `json:"expr"`
	Instant bool   `json:"instant"`
}

// Query is one PromQL query of a dashboard, named for error messages and test exceptions.
type Query struct {
	Dashboard, Panel, RefID string
	Expr                    string // as written, with Grafana variables
}

// ID names the query as "dashboard uid / panel title / refId".
func (q Query) ID() string { return q.Dashboard + " / " + q.Panel + " / " + q.RefID }

// panelTypes are the panel types the dashboards may use: core Grafana panels only, so that no
// plugin has to be installed.
var panelTypes = map[string]bool{
	"row": true, "stat": true, "timeseries": true, "state-timeline": true, "table": true,
	"bargauge": true, "piechart": true, "gauge": true, "heatmap": true, "text": true,
}

// ReadDashboard decodes a dashboard file and checks its shape: uid, title and schema version set,
// unique panel ids, core panel types, a grid position inside the 24-column grid, a datasource
// variable defaulting to the provisioned datasource, and every query panel on that variable with
// non-empty, uniquely referenced queries.
func ReadDashboard(path string) (*Dashboard, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read dashboard: %w", err)
	}
	var d Dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("decode dashboard %s: %w; is it valid JSON?", path, err)
	}
	var errs []error
	if d.UID == "" || d.Title == "" || d.SchemaVersion == 0 {
		errs = append(errs, fmt.Errorf("%s: uid, title and schemaVersion must be set", path))
	}
	if len(d.Panels) == 0 {
		errs = append(errs, fmt.Errorf("%s: no panels", path))
	}
	ids := map[int]bool{}
	for _, p := range d.Panels {
		where := fmt.Sprintf("%s: panel %d %q", path, p.ID, p.Title)
		if ids[p.ID] {
			errs = append(errs, fmt.Errorf("%s: duplicate panel id", where))
		}
		ids[p.ID] = true
		if !panelTypes[p.Type] {
			errs = append(errs, fmt.Errorf("%s: panel type %q is not a core panel", where, p.Type))
		}
		if p.Title == "" {
			errs = append(errs, fmt.Errorf("%s: no title", where))
		}
		if g := p.GridPos; g == nil || g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 || g.Y < 0 {
			errs = append(errs, fmt.Errorf("%s: gridPos missing or outside the 24-column grid", where))
		}
		if p.Type == "row" || p.Type == "text" {
			continue
		}
		if len(p.Targets) == 0 {
			errs = append(errs, fmt.Errorf("%s: no queries", where))
		}
		if p.Datasource == nil || p.Datasource.UID != DatasourceVariable {
			errs = append(errs, fmt.Errorf("%s: datasource must be uid %q", where, DatasourceVariable))
		}
		refs := map[string]bool{}
		for _, t := range p.Targets {
			if t.Expr == "" || t.RefID == "" || refs[t.RefID] {
				errs = append(errs, fmt.Errorf("%s: query %q: empty expr, or missing or duplicate refId", where, t.RefID))
			}
			refs[t.RefID] = true
		}
	}
	hasDatasource := false
	for _, v := range d.Templating.List {
		if v.Type == "query" && (v.Datasource == nil || v.Datasource.UID != DatasourceVariable) {
			errs = append(errs, fmt.Errorf("%s: variable %q: datasource must be uid %q", path, v.Name, DatasourceVariable))
		}
		if v.Name == "datasource" {
			var query string
			_ = json.Unmarshal(v.Query, &query)
			var current string
			_ = json.Unmarshal(v.Current.Value, &current)
			hasDatasource = v.Type == "datasource" && query == "prometheus" && current == DatasourceUID
		}
	}
	if !hasDatasource {
		errs = append(errs, fmt.Errorf("%s: want a variable datasource of type datasource, query prometheus, defaulting to %q",
			path, DatasourceUID))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &d, nil
}

// Queries returns every PromQL query of the dashboard's panels.
func (d *Dashboard) Queries() []Query {
	var out []Query
	for _, p := range d.Panels {
		for _, t := range p.Targets {
			out = append(out, Query{Dashboard: d.UID, Panel: p.Title, RefID: t.RefID, Expr: t.Expr})
		}
	}
	return out
}

// VariableQueries returns the PromQL inside the dashboard's query variables
// (label_values(<selector>, label) yields its selector).
func (d *Dashboard) VariableQueries() []Query {
	var out []Query
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(v.Query, &q); err != nil {
			// Older dashboards store the query as a plain string.
			_ = json.Unmarshal(v.Query, &q.Query)
		}
		if m := labelValuesRE.FindStringSubmatch(q.Query); m != nil {
			q.Query = m[1]
		}
		out = append(out, Query{Dashboard: d.UID, Panel: "variable " + v.Name, RefID: v.Name, Expr: q.Query})
	}
	return out
}

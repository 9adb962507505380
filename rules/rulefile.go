package rules

import (
	"fmt"
	"os"
	"time"

	"gopkg.in/yaml.v3"
)

// Rule is one alerting or recording rule as written in a rule file.
type Rule struct {
	Alert       string            `yaml:"alert"`
	Record      string            `yaml:"record"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

// Name is the alert or recorded series name.
func (r Rule) Name() string {
	if r.Alert != "" {
		return r.Alert
	}
	return r.Record
}

// Group is one rule group.
type Group struct {
	Name     string `yaml:"name"`
	Interval string `yaml:"interval"`
	Rules    []Rule `yaml:"rules"`
}

// File is a Prometheus rule file.
type File struct {
	Groups []Group `yaml:"groups"`
}

// ReadFile reads and decodes a rule file. It checks the YAML shape only; the expressions are
// checked by ParseExpr and promtool.
func ReadFile(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read rule file: %w", err)
	}
	var f File
	if err := yaml.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("decode rule file %s: %w; check it with `promtool check rules`", path, err)
	}
	return &f, nil
}

// Alerts returns the alerting rules of all groups, in file order.
func (f *File) Alerts() []Rule {
	var out []Rule
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				out = append(out, r)
			}
		}
	}
	return out
}

// WithFor returns the rule file src with the `for:` of each alert named in fors replaced, and
// every other byte of meaning kept. End-to-end tests use it to run the production rules with
// second-scale waits; an alert named in fors but absent from src is an error, so a renamed alert
// cannot silently keep its production wait in a test.
func WithFor(src []byte, fors map[string]time.Duration) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, fmt.Errorf("decode rule file: %w", err)
	}
	seen := map[string]bool{}
	for _, rule := range ruleNodes(&doc) {
		name := mapValue(rule, "alert")
		if name == nil {
			continue
		}
		d, ok := fors[name.Value]
		if !ok {
			continue
		}
		seen[name.Value] = true
		val := model(d)
		if f := mapValue(rule, "for"); f != nil {
			f.Value = val
			continue
		}
		rule.Content = append(rule.Content,
			&yaml.Node{Kind: yaml.ScalarNode, Value: "for"},
			&yaml.Node{Kind: yaml.ScalarNode, Value: val})
	}
	for name := range fors {
		if !seen[name] {
			return nil, fmt.Errorf("rule file has no alert %q to shorten; update the test's overrides", name)
		}
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		return nil, fmt.Errorf("encode rule file: %w", err)
	}
	return out, nil
}

// model formats d the way Prometheus durations are written ("1500ms", "2s", "1m").
func model(d time.Duration) string {
	if d%time.Second != 0 {
		return fmt.Sprintf("%dms", d.Milliseconds())
	}
	return fmt.Sprintf("%ds", int64(d/time.Second))
}

// ruleNodes returns the mapping node of every rule in a decoded rule file.
func ruleNodes(doc *yaml.Node) []*yaml.Node {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil
	}
	groups := mapValue(doc.Content[0], "groups")
	if groups == nil {
		return nil
	}
	var out []*yaml.Node
	for _, g := range groups.Content {
		if rs := mapValue(g, "rules"); rs != nil {
			out = append(out, rs.Content...)
		}
	}
	return out
}

// mapValue returns the value node of key in mapping node m, or nil.
func mapValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

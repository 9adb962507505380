package rules

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const (
	compatRules  = "libvirt-exporter-compat.rules.yml"
	exporterDoc  = "../exporter/README.md"
	exporterGold = "../exporter/collector/testdata"
)

// migrationRow is one row of exporter/README.md's table from
// prometheus-libvirt-exporter names to vcr-exporter's.
type migrationRow struct {
	old   string
	news  []string // vcr-exporter names, empty for "none"
	notes string
}

var (
	codeRE      = regexp.MustCompile("`([a-z_]+)`")
	metricRefRE = regexp.MustCompile(`\bvcr_[a-z_]+\b`)
)

func readMigrationTable(t *testing.T) []migrationRow {
	t.Helper()
	b, err := os.ReadFile(exporterDoc)
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(b), "### Migrating from prometheus-libvirt-exporter")
	if !ok {
		t.Fatalf("%s: no section \"Migrating from prometheus-libvirt-exporter\"", exporterDoc)
	}
	var rows []migrationRow
	for _, line := range strings.Split(after, "\n") {
		if strings.HasPrefix(line, "## ") {
			break
		}
		cells := strings.Split(line, "|")
		if len(cells) != 5 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`libvirt_") {
			continue
		}
		r := migrationRow{old: strings.Trim(strings.TrimSpace(cells[1]), "`"), notes: strings.TrimSpace(cells[3])}
		for _, m := range codeRE.FindAllStringSubmatch(cells[2], -1) {
			r.news = append(r.news, m[1])
		}
		rows = append(rows, r)
	}
	if len(rows) < 40 {
		t.Fatalf("%s: migration table has %d rows; is its format still `| old | new | notes |`?", exporterDoc, len(rows))
	}
	return rows
}

// exportedFamilies are the metric families the exporter's golden files
// hold, the libvirt collector's from a real QEMU domain among them.
func exportedFamilies(t *testing.T) map[string]bool {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(exporterGold, "*.golden"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no golden files in %s: %v", exporterGold, err)
	}
	out := map[string]bool{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 3 && f[0] == "#" && f[1] == "TYPE" {
				out[f[2]] = true
			}
		}
	}
	return out
}

// Every old name in the migration table has a recording rule, or the table
// says why not; every rule is in the table; and every vcr-exporter name the
// table and the rules use is one the exporter exports.
func TestMigrationTableMatchesCompatRules(t *testing.T) {
	f, err := ReadFile(compatRules)
	if err != nil {
		t.Fatal(err)
	}
	recorded := map[string][]Rule{}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				t.Errorf("%s: alert %s: the file holds recording rules only", compatRules, r.Alert)
			}
			recorded[r.Record] = append(recorded[r.Record], r)
		}
	}
	families := exportedFamilies(t)
	inTable := map[string]bool{}
	for _, row := range readMigrationTable(t) {
		if inTable[row.old] {
			t.Errorf("%s listed twice", row.old)
		}
		inTable[row.old] = true
		rules, ok := recorded[row.old]
		reason, unrecorded := strings.CutPrefix(row.notes, "not recorded: ")
		switch {
		case !ok && (!unrecorded || len(reason) < 20):
			t.Errorf("%s has no recording rule; its notes must say why, as \"not recorded: <reason>\"", row.old)
		case ok && unrecorded:
			t.Errorf("%s is recorded although the table says it is not", row.old)
		}
		for _, n := range row.news {
			if strings.HasPrefix(n, "vcr_") && !families[n] {
				t.Errorf("%s maps to %s, which the exporter's golden files do not hold", row.old, n)
			}
		}
		for _, r := range rules {
			for _, n := range metricRefRE.FindAllString(r.Expr, -1) {
				if !families[n] {
					t.Errorf("rule %s reads %s, which the exporter's golden files do not hold", r.Record, n)
				}
				if len(row.news) > 0 && !slices.Contains(row.news, n) {
					t.Errorf("rule %s reads %s, but the table maps %s to %v", r.Record, n, row.old, row.news)
				}
			}
			if err := ParseExpr(r.Expr); err != nil {
				t.Errorf("rule %s: %v", r.Record, err)
			}
		}
	}
	for name := range recorded {
		if !inTable[name] {
			t.Errorf("%s records %s, which the migration table in %s does not list", compatRules, name, exporterDoc)
		}
	}
}

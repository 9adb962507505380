// Package layout holds the allowed import directions between the
// repository's folders (docs/ARCHITECTURE.md, "Import directions") and the
// check that enforces them on the real import graph.
package layout

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Module is the module path every rule is relative to.
const Module = "github.com/vcrcovery/vcrcovery"

// Rule forbids packages matching From, other than those matching Except, to
// depend (directly or through other packages) on packages matching To,
// other than those matching Unless. Patterns are regular expressions over
// the path inside the module, anchored at both ends.
type Rule struct {
	Why    string
	From   string
	Except string
	To     string
	Unless string
}

// lowLevel are the building blocks every component may use. They must not
// reach up into a component, or the layering turns into a knot.
const lowLevel = `lxd|dnsupdate|probe|internal/.+|receiver/api|plugins/sdk(/.+)?`

// strategy is one recovery strategy plugin; its cmd/ main is part of it.
const strategy = `plugins/(warm|cold|scaleup|example)(/.+)?`

// Rules are the allowed import directions. Add a rule when a folder gains a
// direction it must keep; a violation names the rule's Why.
var Rules = []Rule{
	{
		Why:    "low-level packages serve every component and import none of them",
		From:   lowLevel,
		To:     `receiver(/.+)?|exporter(/.+)?|plugins/.+|cost|cmd/.+|test/.+|rules|datasync(/.+)?`,
		Unless: `receiver/api|plugins/sdk(/.+)?|internal/.+`,
	},
	{
		Why:    "the strategy SDK is for third parties: it holds only itself, never host-side code",
		From:   `plugins/sdk(/.+)?`,
		To:     `.+`,
		Unless: `plugins/sdk(/.+)?`,
	},
	{
		Why:    "a strategy shares code through plugins/internal or plugins/backupstore, never by importing another strategy",
		From:   `plugins/warm(/.+)?`,
		To:     strategy,
		Unless: `plugins/warm(/.+)?`,
	},
	{
		Why:    "a strategy shares code through plugins/internal or plugins/backupstore, never by importing another strategy",
		From:   `plugins/cold(/.+)?`,
		To:     strategy,
		Unless: `plugins/cold(/.+)?`,
	},
	{
		Why:    "a strategy shares code through plugins/internal or plugins/backupstore, never by importing another strategy",
		From:   `plugins/scaleup(/.+)?`,
		To:     strategy,
		Unless: `plugins/scaleup(/.+)?`,
	},
	{
		Why:    "a strategy shares code through plugins/internal or plugins/backupstore, never by importing another strategy",
		From:   `plugins/example(/.+)?`,
		To:     strategy,
		Unless: `plugins/example(/.+)?`,
	},
	{
		Why:    "strategies run as separate processes: they know the SDK, not the host that runs them",
		From:   `plugins/.+|cmd/vcr-strategy-.+`,
		To:     `plugins/manager(/.+)?|receiver(/.+)?|exporter(/.+)?`,
		Unless: `plugins/manager(/.+)?|receiver/api`,
	},
	{
		Why:  "the exporter and the receiver are separate daemons on separate machines",
		From: `exporter(/.+)?|cmd/vcr-exporter`,
		To:   `receiver(/.+)?|plugins/.+|cost`,
	},
	{
		Why:  "the exporter and the receiver are separate daemons on separate machines",
		From: `receiver(/.+)?|cmd/vcr-receiver`,
		To:   `exporter(/.+)?`,
	},
	{
		Why:    "the sync daemon is a component of its own: it shares the backup store's layout, nothing of the receiver, the exporter or the strategies",
		From:   `datasync(/.+)?|cmd/vcr-sync`,
		To:     `receiver(/.+)?|exporter(/.+)?|plugins/.+|cost`,
		Unless: `plugins/backupstore|plugins/internal/.+|plugins/sdk(/.+)?|receiver/api`,
	},
	{
		Why:  "the exporter's parts are wired by the exporter package alone; the failure table is their common ground",
		From: `exporter/(failure|fastpath|snmptrap|lifecycle|inventory)`,
		To:   `exporter|exporter/collector`,
	},
	{
		Why:  "the fast path and the trap receiver meet only through the failure table",
		From: `exporter/(fastpath|snmptrap|lifecycle|failure)`,
		To:   `exporter/(fastpath|snmptrap|lifecycle|inventory)`,
	},
	{
		Why:    "the journal is the receiver's bottom layer: it records, it does not decide",
		From:   `receiver/journal(/.+)?`,
		To:     `receiver(/.+)?`,
		Unless: `receiver/api|receiver/journal(/.+)?`,
	},
	{
		Why:  "the ownership seam sits below the pipeline and the receiver that use it",
		From: `receiver/ownership`,
		To:   `receiver|receiver/pipeline|receiver/live|receiver/ui(/.+)?`,
	},
	{
		Why:  "the pipeline's collaborators implement its interfaces; they do not drive the receiver",
		From: `receiver/live`,
		To:   `receiver|receiver/ui(/.+)?`,
	},
	{
		Why:    "the capacity view reads the configuration and the standbys; it answers questions, it does not recover",
		From:   `receiver/capacity`,
		To:     `receiver|receiver/pipeline|receiver/ownership|receiver/journal(/.+)?|receiver/live|receiver/ui(/.+)?|plugins/.+`,
		Unless: `plugins/sdk(/.+)?`,
	},
	{
		Why:  "the status page and the configuration read the API's types, not the receiver's internals",
		From: `receiver/(ui|config)(/.+)?`,
		To:   `receiver|receiver/pipeline|receiver/ownership|receiver/journal(/.+)?|receiver/live`,
	},
	{
		Why:  "the recovery pipeline runs stages over interfaces; it must not reach back into the receiver that drives it",
		From: `receiver/pipeline(/.+)?`,
		To:   `receiver|receiver/live|receiver/ui(/.+)?|receiver/journal/etcd`,
	},
	{
		Why:  "binaries are leaves: nothing imports a main package",
		From: `.+`,
		To:   `cmd/.+|plugins/example/cmd/.+`,
	},
	{
		Why:    "shipped code never depends on the test harness; only tests and test helpers (packages named *test) do",
		From:   `.+`,
		Except: `test/.+|.*test|internal/testfixture`,
		To:     `test/.+`,
	},
}

// Package is one package of the module and everything it depends on
// (transitively, without its tests).
type Package struct {
	Path string // inside the module: "lxd", "plugins/warm"
	Deps []string
}

// Violation is one forbidden dependency.
type Violation struct {
	Rule      Rule
	From, Dep string
}

func (v Violation) String() string {
	return fmt.Sprintf("%s depends on %s: %s", v.From, v.Dep, v.Rule.Why)
}

// Check returns every dependency of pkgs that a rule forbids, sorted.
func Check(rules []Rule, pkgs []Package) ([]Violation, error) {
	type compiled struct {
		rule                   Rule
		from, except, to, keep *regexp.Regexp
	}
	var cs []compiled
	for _, r := range rules {
		c := compiled{rule: r}
		var err error
		if c.from, err = anchored(r.From); err != nil {
			return nil, err
		}
		if c.to, err = anchored(r.To); err != nil {
			return nil, err
		}
		if c.except, err = optional(r.Except); err != nil {
			return nil, err
		}
		if c.keep, err = optional(r.Unless); err != nil {
			return nil, err
		}
		cs = append(cs, c)
	}
	var out []Violation
	for _, p := range pkgs {
		for _, c := range cs {
			if !c.from.MatchString(p.Path) || (c.except != nil && c.except.MatchString(p.Path)) {
				continue
			}
			for _, d := range p.Deps {
				if d == p.Path || !c.to.MatchString(d) || (c.keep != nil && c.keep.MatchString(d)) {
					continue
				}
				out = append(out, Violation{Rule: c.rule, From: p.Path, Dep: d})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out, nil
}

func anchored(pattern string) (*regexp.Regexp, error) {
	re, err := regexp.Compile("^(?:" + pattern + ")$")
	if err != nil {
		return nil, fmt.Errorf("layout rule pattern %q: %w", pattern, err)
	}
	return re, nil
}

// optional compiles a pattern that may be empty (nil: matches nothing).
func optional(pattern string) (*regexp.Regexp, error) {
	if pattern == "" {
		return nil, nil
	}
	return anchored(pattern)
}

// Inside turns a full import path into its path inside the module, and
// reports whether it is inside at all.
func Inside(importPath string) (string, bool) {
	rest, ok := strings.CutPrefix(importPath, Module+"/")
	return rest, ok
}

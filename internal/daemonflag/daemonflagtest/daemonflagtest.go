// Package daemonflagtest checks every daemon's command line the same way:
// what it refuses, and that --help explains it.
package daemonflagtest

import (
	"errors"
	"strings"
	"testing"

	"github.com/alecthomas/kingpin/v2"

	"github.com/vcrcovery/vcrcovery/internal/daemonflag"
)

// Refusal is a command line a daemon must refuse, and the words its error
// must contain (the flag at fault, what to give instead).
type Refusal struct {
	Args []string
	Want []string
}

// Refuses checks that parse refuses each command line with an error naming
// what Want says. An ErrExit (--help, --version) counts as accepting it.
func Refuses(t testing.TB, parse func(args []string) error, cases []Refusal) {
	t.Helper()
	for _, tc := range cases {
		err := parse(tc.Args)
		if err == nil || errors.Is(err, daemonflag.ErrExit) {
			t.Errorf("%q: accepted (%v)", tc.Args, err)
			continue
		}
		for _, w := range tc.Want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: %q does not contain %q", tc.Args, err, w)
			}
		}
	}
}

// ExplainsEveryFlag checks that help, what the command line args printed,
// names and explains every visible flag of app and mentions each of
// mentions (the API, the signals: what an operator looks for).
func ExplainsEveryFlag(t testing.TB, args []string, help string, app *kingpin.Application, mentions ...string) {
	t.Helper()
	for _, f := range app.Model().Flags {
		if f.Hidden {
			continue
		}
		if f.Help == "" || !strings.Contains(help, "--"+f.Name) && !strings.Contains(help, "--[no-]"+f.Name) {
			t.Errorf("%q does not explain --%s", args, f.Name)
		}
	}
	for _, w := range mentions {
		if !strings.Contains(help, w) {
			t.Errorf("%q does not mention %s", args, w)
		}
	}
}

// Defaults checks each flag's parsed default: name -> {got, want}.
func Defaults(t testing.TB, defaults map[string][2]any) {
	t.Helper()
	for name, got := range defaults {
		if got[0] != got[1] {
			t.Errorf("--%s default %v, want %v", name, got[0], got[1])
		}
	}
}

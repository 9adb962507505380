package main

import (
	"bufio"
	"errors"
	"fmt"
	"strings"
)

// errNotConfirmed ends a run the operator did not confirm.
var errNotConfirmed = errors.New("not confirmed: nothing was changed; answer y to go ahead, or pass --yes in scripts")

// confirm asks before a run that changes where services run or whether
// they recover: it prints the question and what will happen, one line
// each, and goes ahead only on "y" or "yes" from stdin. Anything else, or
// no answer (stdin closed or not a terminal), changes nothing.
func (a *app) confirm(question string, lines []string) error {
	fmt.Fprintln(a.stderr, question)
	for _, l := range lines {
		fmt.Fprintln(a.stderr, "  "+l)
	}
	fmt.Fprint(a.stderr, "Proceed? [y/N] ")
	answer := ""
	if a.stdin != nil {
		answer, _ = bufio.NewReader(a.stdin).ReadString('\n')
	}
	switch strings.ToLower(strings.TrimSpace(answer)) {
	case "y", "yes":
		return nil
	}
	fmt.Fprintln(a.stderr)
	return errNotConfirmed
}

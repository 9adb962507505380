package scaleup

import (
	"fmt"
	"sort"
	"strings"
)

// Usage is one instance's measured CPU rate on the source.
type Usage struct {
	Instance string
	// CPU is the rate in cores (CPU seconds per second) between two samples.
	CPU float64
}

// Choice is which instances to move and why.
type Choice struct {
	Move []string
	// Total is the source's measured load in cores (all running instances),
	// Remaining what is left after the move.
	Total, Remaining float64
	// Explanation is one line for the incident, with every rate considered.
	Explanation string
}

// Choose picks the instances to move. Candidates are ranked by CPU rate,
// hottest first (ties by name, so the choice is reproducible); the hottest
// always moves, because the alert asked for relief, and further ones move
// while the source's remaining load is above targetLoad (cores; 0 means "move
// just one") and fewer than maxMoves have been picked. Instances in usages
// that are not candidates count toward the load but never move. Candidates
// without a sample (not running) are skipped.
func Choose(usages []Usage, candidates []string, maxMoves int, targetLoad float64) (Choice, error) {
	if maxMoves < 1 {
		maxMoves = 1
	}
	rate := map[string]float64{}
	var ch Choice
	for _, u := range usages {
		rate[u.Instance] = u.CPU
		ch.Total += u.CPU
	}
	var ranked []Usage
	var skipped []string
	for _, c := range candidates {
		r, ok := rate[c]
		if !ok {
			skipped = append(skipped, c)
			continue
		}
		ranked = append(ranked, Usage{c, r})
	}
	if len(ranked) == 0 {
		return ch, fmt.Errorf("no running candidate to move (candidates %v, none running on the source): start the service on the standby first or fix `candidates`", candidates)
	}
	sort.SliceStable(ranked, func(i, j int) bool {
		if ranked[i].CPU != ranked[j].CPU {
			return ranked[i].CPU > ranked[j].CPU
		}
		return ranked[i].Instance < ranked[j].Instance
	})
	ch.Remaining = ch.Total
	for _, u := range ranked {
		if len(ch.Move) >= maxMoves {
			break
		}
		if len(ch.Move) > 0 && (targetLoad <= 0 || ch.Remaining <= targetLoad) {
			break
		}
		ch.Move = append(ch.Move, u.Instance)
		ch.Remaining -= u.CPU
	}
	if ch.Remaining < 0 { // rounding of independent samples
		ch.Remaining = 0
	}

	var b strings.Builder
	fmt.Fprintf(&b, "source load %.2f cores;", ch.Total)
	for i, u := range ranked {
		sep := ","
		if i == 0 {
			sep = ""
		}
		fmt.Fprintf(&b, "%s %s %.2f", sep, u.Instance, u.CPU)
	}
	fmt.Fprintf(&b, "; moving %s (hottest first", strings.Join(ch.Move, ", "))
	switch {
	case targetLoad > 0 && ch.Remaining > targetLoad:
		fmt.Fprintf(&b, ", stopped at max_moves=%d", maxMoves)
	case targetLoad > 0:
		fmt.Fprintf(&b, " until load <= %.2f", targetLoad)
	}
	fmt.Fprintf(&b, ") leaves %.2f cores", ch.Remaining)
	if len(skipped) > 0 {
		fmt.Fprintf(&b, "; not running, skipped: %s", strings.Join(skipped, ", "))
	}
	ch.Explanation = b.String()
	return ch, nil
}

package scaleup

import (
	"reflect"
	"strings"
	"testing"
)

func TestChoose(t *testing.T) {
	usages := []Usage{{"web", 0.9}, {"db", 1.5}, {"cache", 0.2}, {"batch", 0.4}}
	cases := []struct {
		name       string
		candidates []string
		maxMoves   int
		target     float64
		want       []string
		remaining  float64
		explain    []string
		wantErr    string
	}{
		{name: "hottest of all", candidates: []string{"web", "db", "cache"}, maxMoves: 1, want: []string{"db"}, remaining: 1.5,
			explain: []string{"source load 3.00 cores", "db 1.50, web 0.90, cache 0.20", "moving db", "leaves 1.50 cores"}},
		{name: "only candidates move, others count", candidates: []string{"web", "cache"}, maxMoves: 1, want: []string{"web"}, remaining: 2.1},
		{name: "until under target", candidates: []string{"web", "db", "cache", "batch"}, maxMoves: 5, target: 1.0, want: []string{"db", "web"}, remaining: 0.6,
			explain: []string{"until load <= 1.00"}},
		{name: "capped by max_moves", candidates: []string{"web", "db", "cache", "batch"}, maxMoves: 2, target: 0.1, want: []string{"db", "web"},
			explain: []string{"stopped at max_moves=2"}},
		{name: "target already met still moves one", candidates: []string{"cache"}, maxMoves: 3, target: 10, want: []string{"cache"}},
		{name: "not running skipped", candidates: []string{"ghost", "cache"}, maxMoves: 1, want: []string{"cache"},
			explain: []string{"not running, skipped: ghost"}},
		{name: "nothing running", candidates: []string{"ghost"}, wantErr: "no running candidate"},
		{name: "zero max_moves means one", candidates: []string{"web", "db"}, maxMoves: 0, want: []string{"db"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ch, err := Choose(usages, tc.candidates, tc.maxMoves, tc.target)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(ch.Move, tc.want) {
				t.Fatalf("move = %v, want %v (%s)", ch.Move, tc.want, ch.Explanation)
			}
			if tc.remaining != 0 && (ch.Remaining < tc.remaining-1e-9 || ch.Remaining > tc.remaining+1e-9) {
				t.Errorf("remaining = %v, want %v", ch.Remaining, tc.remaining)
			}
			for _, e := range tc.explain {
				if !strings.Contains(ch.Explanation, e) {
					t.Errorf("explanation %q lacks %q", ch.Explanation, e)
				}
			}
		})
	}
}

func TestChooseTiesAreStable(t *testing.T) {
	usages := []Usage{{"b", 0.5}, {"a", 0.5}}
	for range 5 {
		ch, err := Choose(usages, []string{"b", "a"}, 1, 0)
		if err != nil || ch.Move[0] != "a" {
			t.Fatalf("tie broke to %v, %v", ch.Move, err)
		}
	}
}

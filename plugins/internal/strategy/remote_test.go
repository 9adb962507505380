package strategy

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestCheckRemotes(t *testing.T) {
	shared := json.RawMessage(`{"lxd_remotes":{"standby":{"socket":"/s"},"bigvm":{"url":"https://b"}}}`)
	cases := []struct {
		name   string
		shared json.RawMessage
		names  map[string]string
		want   []string // empty: accepted
	}{
		{"known", shared, map[string]string{"remote": "standby"}, nil},
		{"typo", shared, map[string]string{"remote": "standy"}, []string{`remote: LXD remote "standy" is not in lxd_remotes (known: bigvm, standby)`, "fix the name"}},
		{"two wrong", shared, map[string]string{"source": "a", "target": "b"}, []string{`source: LXD remote "a"`, `target: LXD remote "b"`}},
		{"unset key", shared, map[string]string{"remote": "standby", "source_remote": ""}, nil},
		{"no remotes configured", json.RawMessage(`{"backup_dir":"/b"}`), map[string]string{"remote": "standby"}, []string{"(known: none)"}},
		{"protocol-1 host sends no shared settings", nil, map[string]string{"remote": "standy"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckRemotes(tc.shared, tc.names)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

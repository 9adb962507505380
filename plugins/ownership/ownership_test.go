package ownership

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/vcrcovery/vcrcovery/lxd"
)

func instance(config map[string]string) *lxd.Instance {
	return &lxd.Instance{Name: "web", Config: config}
}

func TestOwner(t *testing.T) {
	o := Of(instance(Marks("web", "inc-1", map[string]string{"user.vcrcovery.backup": "b"})))
	if !o.Is("web") || o.Is("api") || !o.IsIncident("web", "inc-1") || o.IsIncident("web", "inc-2") {
		t.Errorf("owner %+v", o)
	}
	if u := Of(instance(nil)); u.Is("web") || u.Is("") || u.IsIncident("", "") || u.String() != "unmarked" {
		t.Errorf("an unmarked instance reads as %+v (%s)", u, u)
	}
}

func TestCheck(t *testing.T) {
	cases := []struct {
		name   string
		config map[string]string
		check  func(*lxd.Instance, string, string, string) error
		want   []string // empty: no conflict
	}{
		{"own", Marks("web", "i", nil), Check, nil},
		{"unmarked", nil, Check, []string{`remote "standby" has an instance "web" that VCRcovery does not own`, "would replace it", "`vcrctl standby adopt web --remote standby`"}},
		{"another service's", Marks("api", "i", nil), Check, []string{`belongs to service "api"`, "not \"web\"", "give web its own instance name"}},
		{"unmarked, where a hand-made standby is fine", nil, CheckNotOthers, nil},
		{"another service's standby", Marks("api", "i", nil), CheckNotOthers, []string{`belongs to service "api"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.check(instance(tc.config), "standby", "web", "replace it")
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("conflict: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrNotOwned) {
				t.Fatalf("err = %v, want ErrNotOwned", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	err := Check(&lxd.Instance{Name: "idle"}, "bigvm", "web", "replace it")
	if !strings.Contains(err.Error(), "`vcrctl standby adopt web --remote bigvm --instance idle`") {
		t.Errorf("a candidate's conflict does not name its instance: %v", err)
	}
}

func TestStandby(t *testing.T) {
	cases := []struct {
		settings, remote, instance, err string
	}{
		{`{"remote":"standby"}`, "standby", "web", ""},
		{`{"remote":"standby","instance":"web1"}`, "standby", "web1", ""},
		{`{"remote":"standby","container":"web2"}`, "standby", "web2", ""},
		{`{"source":"standby","target":"bigvm"}`, "standby", "web", ""},
		{`{"from":"standby","to":"bigvm","instance":"w"}`, "standby", "w", ""},
		{`{"command":["true"]}`, "", "", "name no standby remote"},
		{``, "", "", "name no standby remote"},
		{`[`, "", "", "strategy settings"},
	}
	for _, tc := range cases {
		remote, inst, err := Standby("web", json.RawMessage(tc.settings))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err = %v, want %q", tc.settings, err, tc.err)
			}
			continue
		}
		if err != nil || remote != tc.remote || inst != tc.instance {
			t.Errorf("%s: %q %q %v", tc.settings, remote, inst, err)
		}
	}
}

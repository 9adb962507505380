package lxd_test

// Profiles: nil means LXD's default profile, an empty list means none. The
// JSON must keep the two apart, because LXD applies "default" to a body
// without a profiles field.

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/lxd"
)

func TestProfilesWireFormat(t *testing.T) {
	for _, tc := range []struct {
		name     string
		profiles []string
		want     any // the body's "profiles" value; nil means absent
	}{
		{"nil is left out", nil, nil},
		{"empty is sent", []string{}, []any{}},
		{"named", []string{"default", "web"}, []any{"default", "web"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			f.asyncOp("POST /1.0/instances", "create1", 200, "", nil)
			f.route("PATCH /1.0/instances/web", func(w http.ResponseWriter, r *http.Request) { sync200(w, nil) })
			c := f.startUnix()
			ctx := context.Background()
			if err := c.CreateInstance(ctx, lxd.CreateInstanceRequest{Name: "web", Image: "busybox", Profiles: tc.profiles}); err != nil {
				t.Fatal(err)
			}
			if err := c.PatchInstance(ctx, "web", lxd.InstancePut{Profiles: tc.profiles}, ""); err != nil {
				t.Fatal(err)
			}
			for _, req := range []recorded{f.requests("POST", "/1.0/instances")[0], f.requests("PATCH", "/1.0/instances/web")[0]} {
				got, present := decode(t, req.Body)["profiles"]
				if present != (tc.want != nil) || (present && !reflect.DeepEqual(got, tc.want)) {
					t.Errorf("%s body: profiles = %v (present %v), want %v", req.Method, got, present, tc.want)
				}
			}
			b, err := json.Marshal(lxd.InstancePut{Profiles: tc.profiles})
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			_ = json.Unmarshal(b, &m)
			if got, present := m["profiles"]; present != (tc.want != nil) || (present && !reflect.DeepEqual(got, tc.want)) {
				t.Errorf("InstancePut JSON %s, want profiles %v", b, tc.want)
			}
		})
	}
}

// TestCopyKeepsNoProfiles: a source without profiles gives a copy without
// profiles (LXD's answer holds "profiles": [], which must go out as such).
func TestCopyKeepsNoProfiles(t *testing.T) {
	src, dst := newFake(t), newFake(t)
	src.route("GET /1.0/instances/web", func(w http.ResponseWriter, r *http.Request) {
		sync200(w, map[string]any{"name": "web", "type": "container", "architecture": "x86_64", "profiles": []string{},
			"devices": map[string]any{"root": map[string]string{"type": "disk", "path": "/", "pool": "default"}}})
	})
	src.route("POST /1.0/instances/web", func(w http.ResponseWriter, r *http.Request) {
		op := opJSON("mig1", 103, "", nil, map[string]any{"control": "sc", "fs": "sf"})
		op["class"] = "websocket"
		async202(w, op)
	})
	src.route("GET /1.0/operations/mig1/wait", func(w http.ResponseWriter, r *http.Request) { sync200(w, opJSON("mig1", 200, "", nil, nil)) })
	dst.asyncOp("POST /1.0/instances", "pull1", 200, "", nil)
	s, d := src.startUnix(), dst.startUnix()
	if err := s.CopyInstance(context.Background(), d, "web", lxd.CopyOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, ok := decode(t, dst.requests("POST", "/1.0/instances")[0].Body)["profiles"]; !ok || !reflect.DeepEqual(got, []any{}) {
		t.Errorf("copy body profiles = %v (present %v), want []", got, ok)
	}
}

// TestIntegrationProfiles checks the two meanings against LXD itself: nil
// gets the default profile, an empty list none at all, and a copy of an
// instance without profiles stays without.
func TestIntegrationProfiles(t *testing.T) {
	a, b := testPair(t)
	c, dst := httpsClient(t, a), httpsClient(t, b)
	ctx := ctxT(t, 2*time.Minute)
	// Without a profile, the root disk the default profile gives must come
	// from the instance's own devices.
	root := map[string]map[string]string{"root": {"type": "disk", "path": "/", "pool": "default"}}
	for _, tc := range []struct {
		name     string
		profiles []string
		devices  map[string]map[string]string
		want     []string
	}{
		{"prof-default", nil, nil, []string{"default"}},
		{"prof-none", []string{}, root, []string{}},
	} {
		if err := c.CreateInstance(ctx, lxd.CreateInstanceRequest{Name: tc.name, Image: "busybox", Profiles: tc.profiles, Devices: tc.devices}); err != nil {
			t.Fatalf("create %s: %v", tc.name, err)
		}
		t.Cleanup(func() { remove(c, tc.name) })
		inst, _, err := c.GetInstance(ctx, tc.name)
		if err != nil {
			t.Fatal(err)
		}
		if len(inst.Profiles) != len(tc.want) || (len(tc.want) > 0 && !reflect.DeepEqual(inst.Profiles, tc.want)) {
			t.Errorf("%s created with profiles %#v has %#v, want %#v", tc.name, tc.profiles, inst.Profiles, tc.want)
		}
	}
	if err := c.CopyInstance(ctx, dst, "prof-none", lxd.CopyOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { remove(dst, "prof-none") })
	inst, _, err := dst.GetInstance(ctx, "prof-none")
	if err != nil {
		t.Fatal(err)
	}
	if len(inst.Profiles) != 0 {
		t.Errorf("copy of an instance without profiles has profiles %#v, want none", inst.Profiles)
	}
}

// UpdateProfile sends the ETag as If-Match, so the daemon refuses a change
// based on a stale read; CreateProfile reports a name taken.
func TestProfileETagAndCreate(t *testing.T) {
	f := newFake(t)
	f.route("GET /1.0/profiles/ledger", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", "v1")
		sync200(w, map[string]any{"name": "ledger", "config": map[string]string{"user.a": "1"}, "devices": map[string]any{}})
	})
	f.route("PUT /1.0/profiles/ledger", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-Match") != "v1" {
			errResp(w, http.StatusPreconditionFailed, "ETag doesn't match")
			return
		}
		sync200(w, nil)
	})
	f.route("POST /1.0/profiles", func(w http.ResponseWriter, r *http.Request) {
		errResp(w, http.StatusConflict, "The profile already exists")
	})
	c := f.startUnix()
	ctx := context.Background()
	p, etag, err := c.GetProfile(ctx, "ledger")
	if err != nil || etag != "v1" || p.Config["user.a"] != "1" {
		t.Fatalf("GetProfile = %+v, %q, %v", p, etag, err)
	}
	if err := c.UpdateProfile(ctx, "ledger", lxd.ProfilePut{Config: map[string]string{"user.a": "2"}}, etag); err != nil {
		t.Fatal(err)
	}
	err = c.UpdateProfile(ctx, "ledger", lxd.ProfilePut{}, "stale")
	var le *lxd.Error
	if !errors.As(err, &le) || le.StatusCode != http.StatusPreconditionFailed {
		t.Fatalf("stale ETag: err = %v", err)
	}
	if put := decode(t, f.requests("PUT", "/1.0/profiles/ledger")[0].Body); put["config"].(map[string]any)["user.a"] != "2" {
		t.Errorf("PUT body = %v", put)
	}
	if err := c.CreateProfile(ctx, "ledger", lxd.ProfilePut{}); !errors.Is(err, lxd.ErrAlreadyExists) {
		t.Errorf("CreateProfile of an existing one: err = %v", err)
	}
	if post := decode(t, f.requests("POST", "/1.0/profiles")[0].Body); post["name"] != "ledger" {
		t.Errorf("POST body = %v", post)
	}
}

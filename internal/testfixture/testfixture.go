// Package testfixture holds what the vcrctl and web UI golden tests share:
// the incident timeline both render (testdata/incidents.json, embedded so
// either package's tests can load it from its own folder), reading JSON
// fixtures and comparing output against golden files. It is for tests only.
package testfixture

import (
	_ "embed"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/receiver/api"
)

// Now is the fixed clock the fixture incidents are written against; golden
// output that shows ages or running times depends on it.
var Now = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

//go:embed testdata/incidents.json
var incidentsJSON []byte

// Incidents returns a fresh copy of the fixture incidents, so a test may
// change them without affecting another.
func Incidents(t testing.TB) []api.Incident {
	t.Helper()
	var incs []api.Incident
	if err := json.Unmarshal(incidentsJSON, &incs); err != nil {
		t.Fatalf("testfixture incidents.json: %v", err)
	}
	return incs
}

// ReadJSON decodes the JSON file at path into v, failing the test on error.
func ReadJSON(t testing.TB, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// Golden compares got with the golden file at path, or rewrites the file
// when update is set (the tests' -update flag).
func Golden(t testing.TB, path, got string, update bool) {
	t.Helper()
	if update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update creates it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -update rewrites it)\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
	}
}

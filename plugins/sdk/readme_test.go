package sdk_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// readmeFile matches a Go block in README.md that is marked as a file of
// the example plugin: <!-- file: NAME --> right before the fence.
var readmeFile = regexp.MustCompile("(?s)<!-- file: ([a-z_]+\\.go) -->\n```go\n(.*?)```")

// TestREADMEExampleInItsOwnModule builds the README's example plugin the way
// a third party would: in a module of its own, outside this repository,
// that requires only the SDK module (through a replace, since the SDK is
// not published from here). It runs the example's own test, the
// conformance suite, and checks that neither its go.mod nor its build
// holds any of the receiver's dependencies.
//
// It works offline: the Go tool is pointed at the module cache as its
// proxy, which holds the SDK's few dependencies once the SDK has been built.
func TestREADMEExampleInItsOwnModule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module with the go tool")
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	files := readmeFile.FindAllSubmatch(readme, -1)
	if len(files) != 2 {
		t.Fatalf("README.md holds %d marked Go files, want main.go and main_test.go", len(files))
	}
	sdkDir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, string(f[1])), f[2], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The module requires the SDK and, as `go get` would write them, the
	// SDK's own requirements; the SDK's go.sum covers all of them. (`go mod
	// tidy` would also want the test dependencies of every dependency,
	// which an offline module cache lacks.)
	gomod := "module example.com/vcr-strategy-static\n\ngo 1.26\n\n" +
		"require github.com/vcrcovery/vcrcovery/plugins/sdk v0.0.0\n\n" +
		"replace github.com/vcrcovery/vcrcovery/plugins/sdk => " + sdkDir + "\n"
	var sdkMod struct {
		Require []struct{ Path, Version string }
	}
	out, err := exec.Command("go", "mod", "edit", "-json").Output()
	if err != nil || json.Unmarshal(out, &sdkMod) != nil {
		t.Fatalf("read the SDK's go.mod: %v", err)
	}
	for _, r := range sdkMod.Require {
		gomod += "require " + r.Path + " " + r.Version + " // indirect\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644); err != nil {
		t.Fatal(err)
	}
	// The plugin's dependencies are the SDK's, so the SDK's go.sum covers them.
	sum, err := os.ReadFile("go.sum")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644); err != nil {
		t.Fatal(err)
	}
	modcache := goEnv(t, "GOMODCACHE")
	env := append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod",
		"GOPROXY=file://"+filepath.Join(modcache, "cache", "download"), "GOSUMDB=off")
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("go", args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s in the example module: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("build", "-o", filepath.Join(dir, "vcr-strategy-static"), ".")
	tested := run("test", "-count=1", "-v", "-run", "TestConformance", ".")
	if !strings.Contains(tested, "--- PASS: TestConformance/idempotency/PrepareTwice") {
		t.Errorf("the example's conformance test did not run its idempotency checks:\n%s", tested)
	}
	// What the plugin and its test are built from, module by module, and
	// what its go.mod requires.
	mods := strings.Fields(run("list", "-deps", "-test", "-f", "{{with .Module}}{{.Path}}{{end}}", "."))
	for _, r := range sdkMod.Require {
		mods = append(mods, r.Path)
	}
	for _, mod := range mods {
		for _, heavy := range []string{"prometheus", "etcd", "libvirt", "cobra"} {
			if strings.Contains(mod, heavy) || mod == "github.com/vcrcovery/vcrcovery" {
				t.Errorf("the plugin depends on %s, which only the receiver needs", mod)
			}
		}
	}
}

func goEnv(t *testing.T, key string) string {
	t.Helper()
	out, err := exec.Command("go", "env", key).Output()
	if err != nil {
		t.Fatalf("go env %s: %v", key, err)
	}
	return string(bytes.TrimSpace(out))
}

package testenv

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
)

// StrategyV1Commit is the last commit of this repository whose SDK spoke
// strategy protocol 1 only (before Abort). If history is ever rewritten,
// any commit from before protocol 2 will do.
const StrategyV1Commit = "8aa3da3e9a6f000dd30d0575c29c215605972b62"

// HasCommit returns nil when the checkout holds commit. A source tree
// without its git history does not: tests that need the commit skip with
// the error.
func HasCommit(t TB, commit string) error {
	t.Helper()
	return exec.Command("git", "-C", ModuleRoot(t), "cat-file", "-e", commit+"^{commit}").Run()
}

// Version1ExamplePlugin builds vcr-strategy-example as it was at
// StrategyV1Commit, a plugin that speaks protocol 1 and has no Abort, from
// a copy of that commit's files in a temporary directory, and returns the
// directory holding the binary (a plugin dir). Check HasCommit first.
func Version1ExamplePlugin(t TB) string {
	t.Helper()
	src := t.TempDir()
	archive := exec.Command("git", "-C", ModuleRoot(t), "archive", StrategyV1Commit, "go.mod", "go.sum", "plugins/sdk", "plugins/example")
	var tarball, stderr bytes.Buffer
	archive.Stdout, archive.Stderr = &tarball, &stderr
	if err := archive.Run(); err != nil {
		t.Fatalf("testenv: git archive %s: %v\n%s", StrategyV1Commit, err, stderr.String())
	}
	untar := exec.Command("tar", "-x", "-C", src)
	untar.Stdin = &tarball
	if out, err := untar.CombinedOutput(); err != nil {
		t.Fatalf("testenv: unpack %s: %v\n%s", StrategyV1Commit, err, out)
	}
	dir := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "vcr-strategy-example"), "./plugins/example/cmd/vcr-strategy-example")
	build.Dir = src
	// The old module's dependencies are this module's; the module cache
	// has them, so the build needs no network.
	build.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "GOPROXY=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("testenv: build the version-1 example plugin: %v\n%s", err, out)
	}
	return dir
}

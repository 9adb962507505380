package datasync

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Files are copied in two hops through a mirror on the daemon's host: pull
// every declared path from the source, and only when all pulls completed,
// push the mirror to the target. A source that dies mid-pull (a failing
// primary) never reaches the target, which keeps its last complete copy.
// Both hops use rsync --delay-updates --delete-delay: changed files are
// written aside and renamed into place together at the end, so even an
// interrupted push leaves no half-written file.

// copyPaths copies paths from the side at from to the side at to, through
// mirror, and returns the bytes rsync moved over the wire.
func (c sshClient) copyPaths(ctx context.Context, from, to, mirror string, paths []string, bwlimit int) (int64, error) {
	total, err := c.pullPaths(ctx, from, mirror, paths, bwlimit)
	if err != nil {
		return total, err
	}
	for _, p := range paths {
		n, err := c.rsync(ctx, to, filepath.Join(mirror, p)+"/", c.destination(to)+":"+p+"/", bwlimit, "push "+p+" to "+to)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// pullPaths copies paths from the side at from into mirror only (a cold
// backup's staging copy).
func (c sshClient) pullPaths(ctx context.Context, from, mirror string, paths []string, bwlimit int) (int64, error) {
	var total int64
	for _, p := range paths {
		n, err := c.rsync(ctx, from, c.destination(from)+":"+p+"/", filepath.Join(mirror, p)+"/", bwlimit, "pull "+p+" from "+from)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// rsync runs one rsync between a local dir and addr.
func (c sshClient) rsync(ctx context.Context, addr, src, dst string, bwlimit int, op string) (int64, error) {
	shell, err := c.rsyncShell(addr)
	if err != nil {
		return 0, failure(CauseMisconfigured, op, err)
	}
	if err := c.ensureKnownHosts(); err != nil {
		return 0, failure(CauseLocal, op, err)
	}
	if !strings.Contains(dst, ":") {
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return 0, failure(CauseLocal, op, err)
		}
	}
	args := []string{"-a", "--numeric-ids", "--delete-delay", "--delay-updates", "--mkpath",
		"--timeout=60", "--stats", "-e", shell}
	if bwlimit > 0 {
		args = append(args, "--bwlimit="+strconv.Itoa(bwlimit))
	}
	args = append(args, src, dst)
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "rsync", args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = runClassified(cmd, &stderr, op)
	return rsyncBytes(stdout.String()), err
}

var rsyncTotalRE = regexp.MustCompile(`(?m)^Total bytes (?:sent|received): ([0-9,.]+)`)

// rsyncBytes adds up the bytes rsync --stats says it sent and received.
func rsyncBytes(stats string) int64 {
	var n int64
	for _, m := range rsyncTotalRE.FindAllStringSubmatch(stats, -1) {
		v, err := strconv.ParseInt(strings.NewReplacer(",", "", ".", "").Replace(m[1]), 10, 64)
		if err == nil {
			n += v
		}
	}
	return n
}

// mirrorDir is where a service's files of one purpose are staged.
func mirrorDir(stateDir, service, purpose string) string {
	return filepath.Join(stateDir, "services", service, "mirror-"+purpose)
}

package datasync

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// sshClient runs commands on the sides with the OpenSSH client and the
// daemon's dedicated key. rsync uses the same options as its remote shell, so
// one place decides how every side is reached.
type sshClient struct {
	cfg SSHConfig
}

// options are the ssh options for addr (host:port), without the destination.
func (c sshClient) options(addr string) ([]string, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	return []string{
		"-i", c.cfg.KeyFile,
		"-p", port,
		"-o", "IdentitiesOnly=yes",
		"-o", "BatchMode=yes", // never prompt: a refused key is an error, not a hang
		"-o", "UserKnownHostsFile=" + c.cfg.KnownHostsFile,
		"-o", "StrictHostKeyChecking=" + c.cfg.StrictHostKeyChecking,
		"-o", fmt.Sprintf("ConnectTimeout=%d", int(c.cfg.ConnectTimeout.Seconds())),
		// A side that dies mid-transfer without closing the connection (a
		// partitioned network) is noticed within 15 s.
		"-o", "ServerAliveInterval=5",
		"-o", "ServerAliveCountMax=3",
		"-o", "LogLevel=ERROR",
	}, nil
}

// destination is user@host for addr.
func (c sshClient) destination(addr string) string {
	host, _, _ := net.SplitHostPort(addr)
	return c.cfg.User + "@" + host
}

// rsyncShell is rsync's -e value: ssh and its options, quoted for rsync's own
// word splitting.
func (c sshClient) rsyncShell(addr string) (string, error) {
	opts, err := c.options(addr)
	if err != nil {
		return "", err
	}
	words := []string{"ssh"}
	for _, o := range opts {
		words = append(words, "'"+strings.ReplaceAll(o, "'", `'\''`)+"'")
	}
	return strings.Join(words, " "), nil
}

// Run runs command on addr through a remote shell, with stdin from in (may
// be nil) and stdout to out; it returns an *Error carrying the cause.
func (c sshClient) Run(ctx context.Context, addr, command string, in io.Reader, out io.Writer) error {
	opts, err := c.options(addr)
	if err != nil {
		return failure(CauseMisconfigured, "ssh "+addr, err)
	}
	if err := c.ensureKnownHosts(); err != nil {
		return failure(CauseLocal, "ssh "+addr, err)
	}
	args := append(opts, c.destination(addr), command)
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "ssh", args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = in, out, &stderr
	return runClassified(cmd, &stderr, fmt.Sprintf("ssh %s %q", addr, firstWord(command)))
}

// Output is Run collecting stdout.
func (c sshClient) Output(ctx context.Context, addr, command string) (string, error) {
	var out bytes.Buffer
	err := c.Run(ctx, addr, command, nil, &out)
	return out.String(), err
}

// ensureKnownHosts creates the known_hosts file's folder: ssh cannot record
// an accepted key otherwise, and refuses the host.
func (c sshClient) ensureKnownHosts() error {
	return os.MkdirAll(filepath.Dir(c.cfg.KnownHostsFile), 0o700)
}

// runClassified runs cmd in its own process group (a cancelled sync kills ssh
// and its children together) and turns a failure into an *Error whose cause
// comes from stderr and the exit status.
func runClassified(cmd *exec.Cmd, stderr *bytes.Buffer, op string) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if err == nil {
		return nil
	}
	code := -1
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	}
	msg := strings.TrimSpace(stderr.String())
	if msg == "" {
		msg = err.Error()
	}
	if len(msg) > 600 {
		msg = msg[len(msg)-600:]
	}
	return failure(sshCause(msg, code), op, fmt.Errorf("exit status %d: %s", code, msg))
}

func firstWord(s string) string {
	w, _, _ := strings.Cut(strings.TrimSpace(s), " ")
	return w
}

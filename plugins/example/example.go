// Package example is a VCRcovery strategy written the way a third party
// would write one, importing only plugins/sdk: it runs a command of the
// operator's choosing and reads the recovered service's endpoint from the
// command's last line of output.
package example

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vcrcovery/vcrcovery/plugins/sdk"
)

// Version is reported by Info.
const Version = "0.1.0"

// DefaultTimeout bounds a command when settings give no timeout.
const DefaultTimeout = 60 * time.Second

// Settings is the service's strategy.settings block.
type Settings struct {
	// Command is the argv to run for Prepare, e.g. ["sh", "-c", "..."].
	Command []string `json:"command"`
	// Timeout bounds Command, as a Go duration ("10s"). Default 60s.
	Timeout string `json:"timeout,omitempty"`
	// FinalizeCommand, if set, runs after DNS has switched, with the same
	// environment plus VCR_ENDPOINT_ADDRESS and VCR_ENDPOINT_PORT.
	FinalizeCommand []string `json:"finalize_command,omitempty"`
	// AbortCommand, if set, runs when the receiver undoes a recovery (see
	// Abort), with the same environment plus VCR_ABORT_REASON.
	AbortCommand []string `json:"abort_command,omitempty"`

	timeout time.Duration
}

// ParseSettings decodes and checks settings, naming the offending field.
func ParseSettings(raw json.RawMessage) (Settings, error) {
	var s Settings
	if len(bytes.TrimSpace(raw)) == 0 {
		return s, errors.New("settings: missing; set settings.command to the command that brings the service up")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return s, fmt.Errorf("settings: %w; expected {\"command\": [\"sh\", \"-c\", \"...\"], \"timeout\": \"10s\"}", err)
	}
	if len(s.Command) == 0 || s.Command[0] == "" {
		return s, errors.New("settings.command: required: give the argv to run, e.g. [\"sh\", \"-c\", \"start-web && echo 127.0.0.2 8080\"]")
	}
	s.timeout = DefaultTimeout
	if s.Timeout != "" {
		d, err := time.ParseDuration(s.Timeout)
		if err != nil || d <= 0 {
			return s, fmt.Errorf("settings.timeout: %q is not a positive duration; use e.g. \"10s\"", s.Timeout)
		}
		s.timeout = d
	}
	if len(s.FinalizeCommand) > 0 && s.FinalizeCommand[0] == "" {
		return s, errors.New("settings.finalize_command: the program name is empty; remove the field or give an argv")
	}
	if len(s.AbortCommand) > 0 && s.AbortCommand[0] == "" {
		return s, errors.New("settings.abort_command: the program name is empty; remove the field or give an argv")
	}
	return s, nil
}

// Strategy is the command strategy.
type Strategy struct{}

var _ sdk.Strategy = Strategy{}

// Info implements sdk.Strategy.
func (Strategy) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{
		Name:        "example",
		Version:     Version,
		Description: "runs a command and reads the service endpoint from its last line of output",
	}, nil
}

// ValidateConfig implements sdk.Strategy.
func (Strategy) ValidateConfig(_ context.Context, req sdk.ValidateRequest) error {
	_, err := ParseSettings(req.Settings)
	return err
}

// Prepare implements sdk.Strategy: it runs settings.command, reports each
// output line as progress, and parses the last stdout line as the endpoint.
func (Strategy) Prepare(ctx context.Context, req sdk.PrepareRequest, progress sdk.ProgressFunc) (sdk.Endpoint, error) {
	s, err := ParseSettings(req.Settings)
	if err != nil {
		return sdk.Endpoint{}, err
	}
	if progress == nil {
		progress = func(sdk.Progress) {}
	}
	env := commandEnv(req.IncidentID, req.Service, req.Reason)
	lines, err := run(ctx, s.Command, s.timeout, env, progress)
	if err != nil {
		return sdk.Endpoint{}, err
	}
	if len(lines) == 0 {
		return sdk.Endpoint{}, errors.New("command printed nothing on stdout; its last line must be the endpoint, as \"ADDRESS PORT\" or \"address:port\"")
	}
	last := lines[len(lines)-1]
	ep, err := ParseEndpoint(last)
	if err != nil {
		return sdk.Endpoint{}, fmt.Errorf("last stdout line %q: %w", last, err)
	}
	ep.Details = map[string]string{"command": strings.Join(s.Command, " "), "output_lines": strconv.Itoa(len(lines))}
	return ep, nil
}

// Finalize implements sdk.Strategy: it runs settings.finalize_command if set.
func (Strategy) Finalize(ctx context.Context, req sdk.FinalizeRequest) error {
	s, err := ParseSettings(req.Settings)
	if err != nil {
		return err
	}
	if len(s.FinalizeCommand) == 0 {
		return nil
	}
	env := append(commandEnv(req.IncidentID, req.Service, ""),
		"VCR_ENDPOINT_ADDRESS="+req.Endpoint.Address,
		"VCR_ENDPOINT_PORT="+strconv.Itoa(req.Endpoint.Port))
	_, err = run(ctx, s.FinalizeCommand, s.timeout, env, func(sdk.Progress) {})
	return err
}

func commandEnv(incident, service, reason string) []string {
	return append(os.Environ(),
		"VCR_INCIDENT_ID="+incident,
		"VCR_SERVICE="+service,
		"VCR_REASON="+reason)
}

// ParseEndpoint reads "ADDRESS PORT" or "address:port" ("[v6]:port" for
// IPv6). The address must be an IP, because DNS gets an A or AAAA record.
func ParseEndpoint(line string) (sdk.Endpoint, error) {
	line = strings.TrimSpace(line)
	var host, port string
	if f := strings.Fields(line); len(f) == 2 {
		host, port = f[0], f[1]
	} else if h, p, err := net.SplitHostPort(line); err == nil && len(f) == 1 {
		host, port = h, p
	} else {
		return sdk.Endpoint{}, errors.New("not an endpoint; print \"ADDRESS PORT\" or \"address:port\" as the command's last line")
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return sdk.Endpoint{}, fmt.Errorf("address %q is not an IP address; print the IP the service listens on", host)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return sdk.Endpoint{}, fmt.Errorf("port %q is not in 1-65535", port)
	}
	return sdk.Endpoint{Address: ip.String(), Port: n}, nil
}

// run executes argv in its own process group, streaming its output lines as
// progress, and returns its stdout lines.
//
// The command may start a background service and print its endpoint (`sh -c
// "web & echo 127.0.0.1 8080"`). The service inherits the command's stdout
// and stderr, so they do not close when the command exits; run therefore
// waits for the command's exit, not for the pipes, and then reads only what
// the command wrote. A command that exits 0 keeps whatever it started
// running. Cancelling ctx or exceeding the timeout kills the whole group,
// and so does a failure, so neither a hung nor a failed command leaves its
// children behind.
func run(parent context.Context, argv []string, timeout time.Duration, env []string, progress sdk.ProgressFunc) ([]string, error) {
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// Should the group kill not end the command, kill the command itself.
	cmd.WaitDelay = time.Second

	// Our own pipes rather than StdoutPipe: Wait then returns when the
	// command exits, and does not close the read ends under the readers.
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer outR.Close()
	errR, errW, err := os.Pipe()
	if err != nil {
		outW.Close()
		return nil, err
	}
	defer errR.Close()
	cmd.Stdout, cmd.Stderr = outW, errW
	err = cmd.Start()
	// The command has its copies; ours would keep the pipes open forever.
	outW.Close()
	errW.Close()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w; check settings.command", argv[0], err)
	}

	var (
		mu       sync.Mutex // progress is called from both readers
		outLines []string
		errTail  []string
		wg       sync.WaitGroup
	)
	exited := make(chan struct{})
	wg.Add(2)
	go func() {
		defer wg.Done()
		readLines(outR, exited, func(line string) {
			mu.Lock()
			defer mu.Unlock()
			if strings.TrimSpace(line) != "" {
				outLines = append(outLines, line)
			}
			progress(sdk.Progress{Time: time.Now(), Message: line})
		})
	}()
	go func() {
		defer wg.Done()
		readLines(errR, exited, func(line string) {
			mu.Lock()
			defer mu.Unlock()
			errTail = append(errTail, line)
			if len(errTail) > 5 {
				errTail = errTail[1:]
			}
			progress(sdk.Progress{Time: time.Now(), Message: "stderr: " + line})
		})
	}()
	err = cmd.Wait()
	if err != nil {
		// Failed or killed: take its children down with it.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	// Everything the command wrote is in the pipes now; tell the readers
	// to stop at the first empty read instead of waiting for end of file,
	// and wake one blocked waiting for more.
	close(exited)
	_ = outR.SetReadDeadline(time.Now())
	_ = errR.SetReadDeadline(time.Now())
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	switch {
	case err == nil:
		return outLines, nil
	case parent.Err() != nil:
		return nil, fmt.Errorf("%s was killed: %w", argv[0], parent.Err())
	case ctx.Err() != nil:
		return nil, fmt.Errorf("%s did not finish within %s (settings.timeout); it was killed: %w", argv[0], timeout, context.DeadlineExceeded)
	default:
		msg := fmt.Sprintf("%s failed: %v", argv[0], err)
		if len(errTail) > 0 {
			msg += " (stderr: " + strings.Join(errTail, " | ") + ")"
		}
		return nil, errors.New(msg + "; fix the command or the service it starts")
	}
}

// maxLine bounds one output line; a longer one is passed on in pieces.
const maxLine = 1 << 20

// readLines calls line for each line read from the pipe r, until end of
// file or, once exited is closed, until r holds nothing more. A background
// child of the command may hold the pipe's write end for as long as it
// lives, so end of file may never come; but by the time the command has
// exited, everything it wrote is in the pipe, so the first read that finds
// the pipe empty after exit has seen all of it.
//
// r must come from os.Pipe (non-blocking, with deadlines): the reads go
// through its raw descriptor so that "empty" is an answer, not a wait.
func readLines(r *os.File, exited <-chan struct{}, line func(string)) {
	var pending []byte
	emit := func(final bool) {
		for {
			i := bytes.IndexByte(pending, '\n')
			if i < 0 {
				break
			}
			line(strings.TrimSuffix(string(pending[:i]), "\r"))
			pending = pending[i+1:]
		}
		if len(pending) > 0 && (final || len(pending) >= maxLine) {
			line(strings.TrimSuffix(string(pending), "\r"))
			pending = nil
		}
	}
	defer emit(true)
	raw, err := r.SyscallConn()
	if err != nil {
		return
	}
	buf := make([]byte, 64*1024)
	for {
		after := isClosed(exited)
		var n int
		var rerr error
		err := raw.Read(func(fd uintptr) bool {
			for {
				n, rerr = syscall.Read(int(fd), buf)
				if rerr != syscall.EINTR {
					break
				}
			}
			// An empty pipe: wait for more while the command runs,
			// stop once it has exited.
			return rerr != syscall.EAGAIN || after
		})
		if errors.Is(err, os.ErrDeadlineExceeded) {
			// Woken because the command exited: read on, now without waiting.
			_ = r.SetReadDeadline(time.Time{})
			continue
		}
		if err != nil || rerr != nil || n <= 0 {
			return // end of file, empty after exit, or a read error
		}
		pending = append(pending, buf[:n]...)
		emit(false)
	}
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

package lxd

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strconv"
)

// ExecResult is how a command run with Exec ended.
type ExecResult struct {
	ExitCode int
	Stdout   string
	Stderr   string
}

// Exec runs command in a running instance without a terminal or stdin, waits
// for it, and returns its exit code and output (LXD records both; at most
// 64 KiB of each are read back). A command that ran and failed is not an
// error: the exit code says so. Data a command needs goes in first with
// PushFile.
func (c *Client) Exec(ctx context.Context, instance string, command []string) (ExecResult, error) {
	body := map[string]any{
		"command": command, "interactive": false, "wait-for-websocket": false, "record-output": true,
		"environment": map[string]string{"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root"},
	}
	op, err := c.run(ctx, request{method: http.MethodPost, path: instancePath(instance) + "/exec", body: body, stream: true})
	if err != nil {
		return ExecResult{}, fmt.Errorf("exec %q in %s: %w", command, instance, err)
	}
	var res ExecResult
	switch rc := op.Metadata["return"].(type) {
	case float64:
		res.ExitCode = int(rc)
	default:
		return res, fmt.Errorf("exec %q in %s: LXD returned no exit code", command, instance)
	}
	if out, ok := op.Metadata["output"].(map[string]any); ok {
		res.Stdout = c.execLog(ctx, out["1"])
		res.Stderr = c.execLog(ctx, out["2"])
	}
	return res, nil
}

// execLog reads one recorded output of an exec (a path LXD names in the
// operation's metadata) and deletes it; a log that cannot be read is empty.
func (c *Client) execLog(ctx context.Context, p any) string {
	s, ok := p.(string)
	if !ok || s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil {
		return ""
	}
	var buf bytes.Buffer
	if _, _, err := c.do(ctx, request{method: http.MethodGet, path: u.Path, respOut: &limitWriter{w: &buf, n: 64 << 10}}); err != nil {
		return ""
	}
	_, _, _ = c.do(ctx, request{method: http.MethodDelete, path: u.Path})
	return buf.String()
}

// PushFile writes r into the instance at file (absolute), owned by root with
// mode, creating or replacing it. The parent directory must exist.
func (c *Client) PushFile(ctx context.Context, instance, file string, r io.Reader, mode uint32) error {
	if !path.IsAbs(file) {
		return fmt.Errorf("push %s into %s: the path must be absolute", file, instance)
	}
	hdr := http.Header{}
	hdr.Set("X-LXD-uid", "0")
	hdr.Set("X-LXD-gid", "0")
	hdr.Set("X-LXD-mode", "0"+strconv.FormatUint(uint64(mode), 8))
	hdr.Set("X-LXD-type", "file")
	hdr.Set("X-LXD-write", "overwrite")
	_, err := c.query(ctx, request{method: http.MethodPost, path: instancePath(instance) + "/files",
		query: url.Values{"path": {file}}, body: r, header: hdr, stream: true}, nil)
	if err != nil {
		return fmt.Errorf("push %s into %s: %w", file, instance, err)
	}
	return nil
}

// limitWriter keeps the first n bytes written to it and discards the rest.
type limitWriter struct {
	w io.Writer
	n int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(int64(len(p)), l.n)
		if _, err := l.w.Write(p[:k]); err != nil {
			return 0, err
		}
		l.n -= k
	}
	return len(p), nil
}

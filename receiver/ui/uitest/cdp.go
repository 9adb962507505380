package uitest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"testing"
	"time"
)

// cdp drives one headless Chromium over the DevTools protocol on a pipe
// (--remote-debugging-pipe: commands on fd 3, answers on fd 4, each message
// ending in a NUL byte). It is needed where --dump-dom cannot help: with
// scripts disabled --dump-dom prints nothing, because it reads the DOM
// through the page's own JavaScript, while DOM.getOuterHTML does not.
type cdp struct {
	t      testing.TB
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Reader
	nextID int
	stderr bytes.Buffer
}

type cdpMsg struct {
	ID        int             `json:"id,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
	Method    string          `json:"method,omitempty"`
	Params    any             `json:"params,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *struct {
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

func startCDP(ctx context.Context, t testing.TB, bin string) *cdp {
	t.Helper()
	// Our end writes to cmdW (Chromium reads fd 3) and reads resR (Chromium
	// writes fd 4).
	cmdR, cmdW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	resR, resW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	c := &cdp{t: t, in: cmdW, out: bufio.NewReader(resR)}
	c.cmd = exec.CommandContext(ctx, bin, append(headlessArgs(t), "--remote-debugging-pipe", "about:blank")...)
	c.cmd.ExtraFiles = []*os.File{cmdR, resW}
	c.cmd.Stderr = &c.stderr
	c.cmd.WaitDelay = 5 * time.Second
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	cmdR.Close()
	resW.Close()
	t.Cleanup(func() {
		cmdW.Close()
		if c.cmd.Process != nil {
			_ = c.cmd.Process.Kill() // our own child, by PID
		}
		_ = c.cmd.Wait()
		resR.Close()
	})
	return c
}

// call sends a command and waits for its answer, returning events seen
// meanwhile to onEvent.
func (c *cdp) call(session, method string, params any, result any) {
	c.t.Helper()
	c.nextID++
	id := c.nextID
	b, _ := json.Marshal(cdpMsg{ID: id, SessionID: session, Method: method, Params: params})
	if _, err := c.in.Write(append(b, 0)); err != nil {
		c.t.Fatalf("cdp %s: %v\n%s", method, err, lastLines(c.stderr.String(), 20))
	}
	for {
		m := c.read()
		if m.ID != id {
			continue
		}
		if m.Error != nil {
			c.t.Fatalf("cdp %s: %s", method, m.Error.Message)
		}
		if result != nil {
			if err := json.Unmarshal(m.Result, result); err != nil {
				c.t.Fatalf("cdp %s: decode: %v", method, err)
			}
		}
		return
	}
}

// waitEvent reads until the named event arrives for session.
func (c *cdp) waitEvent(session, method string) {
	c.t.Helper()
	for {
		m := c.read()
		if m.Method == method && m.SessionID == session {
			return
		}
	}
}

func (c *cdp) read() cdpMsg {
	c.t.Helper()
	raw, err := c.out.ReadBytes(0)
	if err != nil {
		c.t.Fatalf("cdp read: %v\n%s", err, lastLines(c.stderr.String(), 20))
	}
	var m cdpMsg
	if err := json.Unmarshal(raw[:len(raw)-1], &m); err != nil {
		c.t.Fatalf("cdp decode %q: %v", raw, err)
	}
	return m
}

// LoadWithoutScripts opens url in a new tab with script execution disabled
// and returns the DOM and a PNG screenshot of a 1280×900 viewport: what a
// reader without JavaScript sees.
func LoadWithoutScripts(t testing.TB, bin, url string) (dom string, png []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c := startCDP(ctx, t, bin)
	var target struct {
		TargetID string `json:"targetId"`
	}
	c.call("", "Target.createTarget", map[string]any{"url": "about:blank"}, &target)
	var att struct {
		SessionID string `json:"sessionId"`
	}
	c.call("", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &att)
	s := att.SessionID
	c.call(s, "Emulation.setScriptExecutionDisabled", map[string]any{"value": true}, nil)
	c.call(s, "Emulation.setDeviceMetricsOverride", map[string]any{"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": false}, nil)
	c.call(s, "Page.enable", nil, nil)
	c.call(s, "Page.navigate", map[string]any{"url": url}, nil)
	c.waitEvent(s, "Page.loadEventFired")
	var doc struct {
		Root struct {
			NodeID int `json:"nodeId"`
		} `json:"root"`
	}
	c.call(s, "DOM.getDocument", map[string]any{"depth": -1}, &doc)
	var outer struct {
		OuterHTML string `json:"outerHTML"`
	}
	c.call(s, "DOM.getOuterHTML", map[string]any{"nodeId": doc.Root.NodeID}, &outer)
	var shot struct {
		Data []byte `json:"data"` // base64 in JSON, decoded by encoding/json
	}
	c.call(s, "Page.captureScreenshot", map[string]any{"format": "png"}, &shot)
	if outer.OuterHTML == "" {
		t.Fatalf("empty DOM for %s", url)
	}
	return outer.OuterHTML, shot.Data
}

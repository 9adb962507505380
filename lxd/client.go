package lxd

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// Config says how to reach one LXD daemon. Set exactly one of Socket and URL.
type Config struct {
	// Socket is the path of the daemon's unix socket, e.g.
	// /var/lib/lxd/unix.socket or $LXD_DIR/unix.socket.
	Socket string
	// URL is the daemon's HTTPS address, e.g. https://127.0.0.1:8443.
	URL string
	// ClientCert and ClientKey are PEM files of the client certificate the
	// daemon trusts. Required with URL.
	ClientCert string
	ClientKey  string
	// ServerCert is the PEM file of the daemon's own certificate
	// ($LXD_DIR/server.crt). Required with URL: it is pinned, and any other
	// certificate is refused, whoever signed it.
	ServerCert string
	// Project selects an LXD project; empty means the default project.
	Project string
	// Timeout bounds each plain request (not operation waits, not backup
	// transfers, which follow their context). Zero means 30 s.
	Timeout time.Duration
}

// Client talks to one LXD daemon. It is safe for concurrent use.
type Client struct {
	cfg     Config
	base    string // scheme://host, no trailing slash
	http    *http.Client
	stream  *http.Client // no overall timeout: transfers and waits follow ctx
	server  *Server
	timeout time.Duration
}

// Connect builds a client and checks that the daemon answers and trusts us,
// so a bad socket path, certificate or trust setup fails here with one clear
// error rather than at the first real call.
func Connect(ctx context.Context, cfg Config) (*Client, error) {
	c, err := newClient(cfg)
	if err != nil {
		return nil, err
	}
	srv, err := c.GetServer(ctx)
	if err != nil {
		return nil, fmt.Errorf("lxd connect %s: %w", c.Target(), err)
	}
	if srv.Auth != "" && srv.Auth != "trusted" {
		return nil, fmt.Errorf("lxd connect %s: daemon does not trust this client (auth=%q): add its certificate with `lxc config trust add`", c.Target(), srv.Auth)
	}
	c.server = srv
	return c, nil
}

func newClient(cfg Config) (*Client, error) {
	if (cfg.Socket == "") == (cfg.URL == "") {
		return nil, errors.New("lxd: set exactly one of Config.Socket and Config.URL")
	}
	c := &Client{cfg: cfg, timeout: cfg.Timeout}
	if c.timeout <= 0 {
		c.timeout = 30 * time.Second
	}
	var tr *http.Transport
	if cfg.Socket != "" {
		if _, err := os.Stat(cfg.Socket); err != nil {
			return nil, fmt.Errorf("lxd: socket %s: %w (is the daemon running, and LXD_DIR right?)", cfg.Socket, err)
		}
		sock := cfg.Socket
		tr = &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", sock)
			},
		}
		c.base = "http://lxd"
	} else {
		u, err := url.Parse(cfg.URL)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return nil, fmt.Errorf("lxd: URL %q: want https://host:port", cfg.URL)
		}
		tlsCfg, err := pinnedTLS(cfg)
		if err != nil {
			return nil, err
		}
		tr = &http.Transport{TLSClientConfig: tlsCfg, Proxy: nil}
		c.base = "https://" + u.Host
	}
	tr.MaxIdleConnsPerHost = 8
	tr.IdleConnTimeout = 60 * time.Second
	c.http = &http.Client{Transport: tr, Timeout: c.timeout}
	c.stream = &http.Client{Transport: tr}
	return c, nil
}

// pinnedTLS trusts exactly the configured server certificate. LXD daemons use
// self-signed certificates, so chain verification means nothing; byte
// equality with the pinned certificate is the check.
func pinnedTLS(cfg Config) (*tls.Config, error) {
	if cfg.ClientCert == "" || cfg.ClientKey == "" || cfg.ServerCert == "" {
		return nil, errors.New("lxd: HTTPS needs Config.ClientCert, ClientKey and ServerCert (the daemon's server.crt, which is pinned)")
	}
	pair, err := tls.LoadX509KeyPair(cfg.ClientCert, cfg.ClientKey)
	if err != nil {
		return nil, fmt.Errorf("lxd: load client certificate %s: %w", cfg.ClientCert, err)
	}
	pinned, err := readCertDER(cfg.ServerCert)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		Certificates:       []tls.Certificate{pair},
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // replaced by the pin check below
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 || !bytes.Equal(raw[0], pinned) {
				return fmt.Errorf("lxd: server certificate does not match the pinned %s; check you reach the right daemon or update ServerCert", cfg.ServerCert)
			}
			return nil
		},
	}, nil
}

func readCertDER(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("lxd: read server certificate: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("lxd: %s holds no PEM certificate; point ServerCert at the daemon's server.crt", path)
	}
	return blk.Bytes, nil
}

// Target names the daemon for messages: its socket path or URL.
func (c *Client) Target() string {
	if c.cfg.Socket != "" {
		return "unix:" + c.cfg.Socket
	}
	return c.base
}

// Response is LXD's standard envelope around every answer.
type Response struct {
	Type       string          `json:"type"` // sync, async or error
	Status     string          `json:"status"`
	StatusCode int             `json:"status_code"`
	Operation  string          `json:"operation"`
	ErrorCode  int             `json:"error_code"`
	Error      string          `json:"error"`
	Metadata   json.RawMessage `json:"metadata"`
}

// request describes one call. body is JSON-encoded unless it is an io.Reader.
type request struct {
	method  string
	path    string // starting with /1.0
	query   url.Values
	body    any
	header  http.Header
	stream  bool // use the client without an overall timeout
	noProj  bool // operations and / are not project-scoped
	respOut io.Writer
}

func (c *Client) url(r request) string {
	q := url.Values{}
	for k, v := range r.query {
		q[k] = v
	}
	if c.cfg.Project != "" && !r.noProj {
		q.Set("project", c.cfg.Project)
	}
	u := c.base + r.path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// do sends a request and decodes LXD's envelope. An error envelope or a
// non-2xx status becomes an *Error. With respOut set, a successful body is
// copied there raw (backup export) instead of being decoded.
func (c *Client) do(ctx context.Context, r request) (*Response, http.Header, error) {
	var body io.Reader
	ctype := ""
	switch b := r.body.(type) {
	case nil:
	case io.Reader:
		body, ctype = b, "application/octet-stream"
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			return nil, nil, fmt.Errorf("lxd: encode %s %s: %w", r.method, r.path, err)
		}
		body, ctype = bytes.NewReader(buf), "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, r.method, c.url(r), body)
	if err != nil {
		return nil, nil, fmt.Errorf("lxd: %s %s: %w", r.method, r.path, err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("User-Agent", "vcrcovery-lxd")
	for k, v := range r.header {
		req.Header[k] = v
	}
	hc := c.http
	if r.stream {
		hc = c.stream
	}
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, fmt.Errorf("lxd: %s %s: %w", r.method, r.path, ctx.Err())
		}
		return nil, nil, fmt.Errorf("lxd: %s %s on %s: %w (is the daemon running and reachable?)", r.method, r.path, c.Target(), err)
	}
	defer resp.Body.Close()

	if r.respOut != nil && resp.StatusCode/100 == 2 && !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if _, err := io.Copy(r.respOut, resp.Body); err != nil {
			return nil, resp.Header, fmt.Errorf("lxd: %s %s: read body: %w", r.method, r.path, err)
		}
		return &Response{Type: "sync", StatusCode: resp.StatusCode}, resp.Header, nil
	}

	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, resp.Header, fmt.Errorf("lxd: %s %s: read body: %w", r.method, r.path, err)
	}
	var env Response
	if jerr := json.Unmarshal(raw, &env); jerr != nil {
		if resp.StatusCode/100 != 2 {
			return nil, resp.Header, &Error{StatusCode: resp.StatusCode, Message: strings.TrimSpace(snippet(raw)), Method: r.method, Path: r.path}
		}
		return nil, resp.Header, fmt.Errorf("lxd: %s %s: answer is not LXD JSON (%v): %q", r.method, r.path, jerr, snippet(raw))
	}
	if env.Type == "error" || resp.StatusCode/100 != 2 {
		code := env.ErrorCode
		if code == 0 {
			code = resp.StatusCode
		}
		msg := env.Error
		if msg == "" {
			msg = http.StatusText(code)
		}
		return nil, resp.Header, &Error{StatusCode: code, Message: msg, Method: r.method, Path: r.path}
	}
	return &env, resp.Header, nil
}

func snippet(b []byte) string {
	if len(b) > 200 {
		b = b[:200]
	}
	return string(b)
}

// query runs a sync request and decodes its metadata into out (if non-nil).
func (c *Client) query(ctx context.Context, r request, out any) (http.Header, error) {
	env, hdr, err := c.do(ctx, r)
	if err != nil {
		return hdr, err
	}
	if out != nil && len(env.Metadata) > 0 && string(env.Metadata) != "null" {
		if err := json.Unmarshal(env.Metadata, out); err != nil {
			return hdr, fmt.Errorf("lxd: %s %s: decode metadata: %w", r.method, r.path, err)
		}
	}
	return hdr, nil
}

// Raw sends any request to the API and returns LXD's envelope and the
// response headers, for endpoints this package does not wrap. body is
// JSON-encoded, or streamed as application/octet-stream if it is an
// io.Reader. path starts with /1.0.
func (c *Client) Raw(ctx context.Context, method, path string, body any) (*Response, http.Header, error) {
	r := request{method: method, path: path, body: body}
	if p, q, ok := strings.Cut(path, "?"); ok {
		vals, err := url.ParseQuery(q)
		if err != nil {
			return nil, nil, fmt.Errorf("lxd: %s %s: bad query: %w", method, path, err)
		}
		r.path, r.query = p, vals
	}
	return c.do(ctx, r)
}

func pathEscape(s string) string { return url.PathEscape(s) }

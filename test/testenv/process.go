package testenv

import "time"

// WaitReady polls check every 50 ms until it returns nil; it fails t, quoting
// the log's last lines, if the process exits first or timeout passes.
func (p *Proc) WaitReady(t TB, timeout time.Duration, check func() error) {
	t.Helper()
	p.waitReady(t, timeout, check)
}

// WaitHTTP waits until GET url answers 200 (see WaitReady).
func (p *Proc) WaitHTTP(t TB, url string, timeout time.Duration) {
	t.Helper()
	p.waitReady(t, timeout, func() error { return HTTPOK(url) })
}

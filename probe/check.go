package probe

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Defaults applied by Wait and Once to zero fields of a Check.
const (
	DefaultInterval       = 50 * time.Millisecond
	DefaultAttemptTimeout = time.Second
	DefaultExpectStatus   = 200
)

// Check describes one endpoint and what "ready" means for it.
type Check struct {
	Address string // IP or host name
	Port    int
	// HTTPPath, when set, turns the check into an HTTP GET of this path; the
	// empty string means a TCP connect is enough.
	HTTPPath string
	// ExpectStatus is the HTTP status that counts as ready (default 200 when
	// HTTPPath is set). Redirects are not followed, so a 302 is what you get.
	ExpectStatus int
	// MySQL, when set, turns the check into a login and a query on a MariaDB
	// or MySQL server (HTTPPath must then be empty).
	MySQL          *MySQL
	Interval       time.Duration // pause between attempts, default 50ms
	AttemptTimeout time.Duration // bound on one attempt, default 1s
}

// Target is the "host:port" the check connects to.
func (c Check) Target() string {
	return net.JoinHostPort(c.Address, strconv.Itoa(c.Port))
}

// withDefaults validates c and fills its zero fields. Validation errors are
// returned rather than panicking because checks come from user config.
func (c Check) withDefaults() (Check, error) {
	if strings.TrimSpace(c.Address) == "" {
		return c, fmt.Errorf("probe: empty address: set the endpoint address the strategy returned")
	}
	if c.Port < 1 || c.Port > 65535 {
		return c, fmt.Errorf("probe %s: port %d out of range: use 1-65535", c.Address, c.Port)
	}
	if c.Interval < 0 || c.AttemptTimeout < 0 {
		return c, fmt.Errorf("probe %s: negative interval or attempt timeout: use a positive duration or 0 for the default", c.Target())
	}
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.AttemptTimeout == 0 {
		c.AttemptTimeout = DefaultAttemptTimeout
	}
	if c.MySQL != nil && c.HTTPPath != "" {
		return c, fmt.Errorf("probe %s: both an HTTP path and a MySQL query: a check is one or the other", c.Target())
	}
	if c.HTTPPath != "" {
		if !strings.HasPrefix(c.HTTPPath, "/") {
			c.HTTPPath = "/" + c.HTTPPath
		}
		if c.ExpectStatus == 0 {
			c.ExpectStatus = DefaultExpectStatus
		}
		if c.ExpectStatus < 100 || c.ExpectStatus > 599 {
			return c, fmt.Errorf("probe %s: expected HTTP status %d is not a status code: use 100-599", c.Target(), c.ExpectStatus)
		}
	}
	return c, nil
}

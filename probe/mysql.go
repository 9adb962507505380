package probe

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log"
	"sync"

	"github.com/go-sql-driver/mysql"
)

// DefaultMySQLQuery is what a MySQL check runs when it names no query.
const DefaultMySQLQuery = "SELECT 1"

// ErrQueryFailed is wrapped by errors from a MySQL check whose server
// answered the handshake but refused the login or the query.
var ErrQueryFailed = errors.New("MySQL query failed")

// MySQL turns a check into a real query on a MariaDB or MySQL server: log in
// as User and run Query, which must succeed and return at least one row. A
// database that accepts TCP connections is not yet one that answers (a
// replica still read-only, a server still recovering its tables), which is
// why a database service is verified with a query.
type MySQL struct {
	User     string
	Password string
	Query    string // default DefaultMySQLQuery
}

var quietDriver sync.Once

// mysqlAttempt logs in and runs the query once, within the attempt's ctx.
func mysqlAttempt(ctx context.Context, c Check) error {
	// The driver logs every dropped connection to the standard logger; a
	// probe of a server that is still starting would fill the log with them.
	quietDriver.Do(func() { _ = mysql.SetLogger(log.New(io.Discard, "", 0)) })
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd = c.MySQL.User, c.MySQL.Password
	cfg.Net, cfg.Addr = "tcp", c.Target()
	cfg.Timeout, cfg.ReadTimeout, cfg.WriteTimeout = c.AttemptTimeout, c.AttemptTimeout, c.AttemptTimeout
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return fmt.Errorf("probe %s: MySQL settings: %w: fix the check's mysql block", c.Target(), err)
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	q := c.MySQL.Query
	if q == "" {
		q = DefaultMySQLQuery
	}
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		var me *mysql.MySQLError
		if errors.As(err, &me) {
			return &AttemptError{Target: c.Target(), Reason: fmt.Sprintf("MySQL on %s refused %q: %v", c.Target(), q, me), Err: errors.Join(ErrQueryFailed, err)}
		}
		return describe(c, err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return describe(c, err)
		}
		return &AttemptError{Target: c.Target(), Reason: fmt.Sprintf("MySQL query %q on %s returned no row", q, c.Target()), Err: ErrQueryFailed}
	}
	return nil
}

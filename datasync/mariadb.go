package datasync

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
)

// mariadb is one side's MariaDB, reached with the daemon's account.
type mariadb struct {
	addr string
	db   *sql.DB
}

// pools keeps one connection pool per MariaDB address.
type pools struct {
	mu    sync.Mutex
	cfg   MySQLConfig
	byKey map[string]*sql.DB
}

func (p *pools) get(addr string) mariadb {
	p.mu.Lock()
	defer p.mu.Unlock()
	if db, ok := p.byKey[addr]; ok {
		return mariadb{addr: addr, db: db}
	}
	mc := mysql.NewConfig()
	mc.User, mc.Passwd, mc.Net, mc.Addr = p.cfg.User, p.cfg.password, "tcp", addr
	mc.Timeout, mc.ReadTimeout, mc.WriteTimeout = 5*time.Second, time.Minute, 30*time.Second
	// CHANGE MASTER TO cannot be prepared: let the driver quote arguments.
	mc.InterpolateParams = true
	connector, _ := mysql.NewConnector(mc) // only fails on a malformed config, which NewConfig is not
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(2)
	db.SetConnMaxIdleTime(time.Minute)
	if p.byKey == nil {
		p.byKey = map[string]*sql.DB{}
	}
	p.byKey[addr] = db
	return mariadb{addr: addr, db: db}
}

func (p *pools) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, db := range p.byKey {
		db.Close()
	}
	p.byKey = nil
}

// sqlFailure gives a MariaDB error its cause.
func sqlFailure(op string, err error) error {
	var me *mysql.MySQLError
	var ne net.Error
	switch {
	// 1045 wrong password or no such account, 1130 no account for this host,
	// 1044/1142/1227 missing privileges.
	case errors.As(err, &me) && (me.Number == 1045 || me.Number == 1130 || me.Number == 1044 || me.Number == 1227 || me.Number == 1142):
		return failure(CauseMySQLAuth, op, err)
	case errors.As(err, &ne), errors.Is(err, mysql.ErrInvalidConn), strings.Contains(err.Error(), "connection refused"):
		return failure(CauseMySQLConnect, op, err)
	}
	return failure(CauseOther, op, err)
}

func (m mariadb) exec(ctx context.Context, query string, args ...any) error {
	if _, err := m.db.ExecContext(ctx, query, args...); err != nil {
		return sqlFailure(fmt.Sprintf("%s: %s", m.addr, firstWords(query, 3)), err)
	}
	return nil
}

func firstWords(s string, n int) string {
	f := strings.Fields(s)
	if len(f) > n {
		f = f[:n]
	}
	return strings.Join(f, " ")
}

// serverInfo is what replication needs of a server's settings.
type serverInfo struct {
	ServerID        int64
	LogBin          bool
	LogSlaveUpdates bool
	SyncBinlog      int
	ReadOnly        bool
	GTIDBinlogPos   string
	GTIDSlavePos    string
}

func (m mariadb) info(ctx context.Context) (serverInfo, error) {
	var i serverInfo
	err := m.db.QueryRowContext(ctx, "SELECT @@server_id, @@log_bin, @@log_slave_updates, @@sync_binlog, @@read_only, @@gtid_binlog_pos, @@gtid_slave_pos").
		Scan(&i.ServerID, &i.LogBin, &i.LogSlaveUpdates, &i.SyncBinlog, &i.ReadOnly, &i.GTIDBinlogPos, &i.GTIDSlavePos)
	if err != nil {
		return i, sqlFailure(m.addr+": read server settings", err)
	}
	return i, nil
}

// checkPair refuses a source and replica that cannot replicate with GTIDs
// both ways: each needs a binlog of what it applies, and its own server_id.
func checkPair(src, rep serverInfo, srcAddr, repAddr string) error {
	for _, s := range []struct {
		addr string
		i    serverInfo
	}{{srcAddr, src}, {repAddr, rep}} {
		if !s.i.LogBin || !s.i.LogSlaveUpdates {
			return failure(CauseMisconfigured, s.addr, errors.New("log_bin and log_slave_updates must be ON (a promoted replica must be able to serve its old primary)"))
		}
		// A crashed or destroyed server keeps only what was synced: with
		// sync_binlog 0 its binlog comes back behind its data and it can
		// no longer follow the promoted replica.
		if s.i.SyncBinlog != 1 {
			return failure(CauseMisconfigured, s.addr, fmt.Errorf("sync_binlog is %d, must be 1 (a server that crashed must come back with every commit in its binlog to replicate again)", s.i.SyncBinlog))
		}
	}
	if src.ServerID == rep.ServerID {
		return failure(CauseMisconfigured, srcAddr+" and "+repAddr, fmt.Errorf("both have server_id %d", src.ServerID))
	}
	return nil
}

// replicaStatus is the part of SHOW SLAVE STATUS the daemon reads.
type replicaStatus struct {
	Configured   bool
	IORunning    string // Yes, No, Connecting
	SQLRunning   string
	LastIOErrno  int
	LastIOError  string
	LastSQLError string
	MasterHost   string
	MasterPort   int
	GTIDIOPos    string
}

func (m mariadb) replicaStatus(ctx context.Context) (replicaStatus, error) {
	var st replicaStatus
	rows, err := m.db.QueryContext(ctx, "SHOW SLAVE STATUS")
	if err != nil {
		return st, sqlFailure(m.addr+": SHOW SLAVE STATUS", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return st, sqlFailure(m.addr+": SHOW SLAVE STATUS", err)
	}
	if !rows.Next() {
		return st, rows.Err()
	}
	vals := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return st, sqlFailure(m.addr+": SHOW SLAVE STATUS", err)
	}
	col := map[string]string{}
	for i, c := range cols {
		col[c] = string(vals[i])
	}
	st.Configured = col["Master_Host"] != ""
	st.IORunning, st.SQLRunning = col["Slave_IO_Running"], col["Slave_SQL_Running"]
	st.LastIOErrno, _ = strconv.Atoi(col["Last_IO_Errno"])
	st.LastIOError, st.LastSQLError = col["Last_IO_Error"], col["Last_SQL_Error"]
	st.MasterHost = col["Master_Host"]
	st.MasterPort, _ = strconv.Atoi(col["Master_Port"])
	st.GTIDIOPos = col["Gtid_IO_Pos"]
	return st, rows.Err()
}

// settling reports whether the IO thread is between states ("Connecting",
// "Preparing" right after START SLAVE) without an error yet.
func (st replicaStatus) settling() bool {
	return st.IORunning != "Yes" && st.IORunning != "No" && st.LastIOError == ""
}

// waitConnected polls a replica that was just (re)started until its IO
// thread has connected, an error shows, or timeout passes: "Connecting"
// right after START SLAVE is no failure yet.
func (m mariadb) waitConnected(ctx context.Context, timeout time.Duration) (replicaStatus, error) {
	deadline := time.Now().Add(timeout)
	for {
		st, err := m.replicaStatus(ctx)
		if err != nil || (!st.settling() && st.IORunning != "No") || st.LastIOError != "" || time.Now().After(deadline) {
			return st, err
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// source is "host:port" of the replica's configured source.
func (st replicaStatus) source() string {
	return net.JoinHostPort(st.MasterHost, strconv.Itoa(st.MasterPort))
}

const heartbeatDDL = "CREATE TABLE IF NOT EXISTS vcr_sync.heartbeat (id TINYINT PRIMARY KEY, ts DOUBLE NOT NULL) ENGINE=InnoDB"

// writeHeartbeat records now on the source. The replica's age is read back
// from the same row, so the daemon's clock is the only clock involved.
func (m mariadb) writeHeartbeat(ctx context.Context, now time.Time) error {
	err := m.exec(ctx, "REPLACE INTO vcr_sync.heartbeat (id, ts) VALUES (1, ?)", float64(now.UnixNano())/1e9)
	var me *mysql.MySQLError
	if err != nil && errors.As(err, &me) && (me.Number == 1146 || me.Number == 1049) { // no table, no database
		if err := m.exec(ctx, "CREATE DATABASE IF NOT EXISTS vcr_sync"); err != nil {
			return err
		}
		if err := m.exec(ctx, heartbeatDDL); err != nil {
			return err
		}
		return m.exec(ctx, "REPLACE INTO vcr_sync.heartbeat (id, ts) VALUES (1, ?)", float64(now.UnixNano())/1e9)
	}
	return err
}

// readHeartbeat returns the newest heartbeat applied here; zero if none.
func (m mariadb) readHeartbeat(ctx context.Context) (time.Time, error) {
	var ts float64
	err := m.db.QueryRowContext(ctx, "SELECT ts FROM vcr_sync.heartbeat WHERE id = 1").Scan(&ts)
	var me *mysql.MySQLError
	if errors.Is(err, sql.ErrNoRows) || (err != nil && errors.As(err, &me) && (me.Number == 1146 || me.Number == 1049)) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, sqlFailure(m.addr+": read heartbeat", err)
	}
	return time.Unix(0, int64(ts*1e9)), nil
}

// becomeReplica makes this server a read-only GTID replica of source
// (host:port as this server reaches it). fromOwnBinlog starts from what this
// server's binlog already holds: right for a former primary, or a former
// replica that was promoted and now follows again.
func (m mariadb) becomeReplica(ctx context.Context, source string, cfg MySQLConfig, fromOwnBinlog bool) error {
	host, port, err := net.SplitHostPort(source)
	if err != nil {
		return failure(CauseMisconfigured, m.addr, fmt.Errorf("replication source %q: %w", source, err))
	}
	p, _ := strconv.Atoi(port)
	steps := []struct {
		q    string
		args []any
	}{
		{"STOP SLAVE", nil},
		{"RESET SLAVE ALL", nil},
		{"SET GLOBAL read_only = 1", nil},
	}
	if fromOwnBinlog {
		steps = append(steps, struct {
			q    string
			args []any
		}{"SET GLOBAL gtid_slave_pos = @@gtid_binlog_pos", nil})
	}
	steps = append(steps, []struct {
		q    string
		args []any
	}{
		{"CHANGE MASTER TO MASTER_HOST = ?, MASTER_PORT = ?, MASTER_USER = ?, MASTER_PASSWORD = ?, MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = 1",
			[]any{host, p, cfg.ReplicationUser, cfg.replicationPassword}},
		{"START SLAVE", nil},
	}...)
	for _, s := range steps {
		if err := m.exec(ctx, s.q, s.args...); err != nil {
			return err
		}
	}
	return nil
}

// catchUp waits until this replica has applied everything source's binlog
// holds now (bounded by timeout): after a reverse, the old primary holds what
// the standby took while it served before DNS moves back to it.
func (m mariadb) catchUp(ctx context.Context, source mariadb, timeout time.Duration) (string, error) {
	var pos string
	if err := source.db.QueryRowContext(ctx, "SELECT @@gtid_binlog_pos").Scan(&pos); err != nil {
		return "", sqlFailure(source.addr+": read @@gtid_binlog_pos", err)
	}
	if pos == "" {
		return "", nil
	}
	var res sql.NullInt64
	if err := m.db.QueryRowContext(ctx, "SELECT MASTER_GTID_WAIT(?, ?)", pos, timeout.Seconds()).Scan(&res); err != nil {
		return pos, sqlFailure(m.addr+": wait to catch up with "+source.addr, err)
	}
	if res.Int64 != 0 {
		st, _ := m.replicaStatus(ctx)
		cause := CauseReplicationIO
		if st.LastSQLError != "" {
			cause = CauseReplicationSQL
		}
		return pos, failure(cause, m.addr, fmt.Errorf("did not catch up with %s (GTID %s) within %s (io %s, sql %s %s)",
			source.addr, pos, timeout, st.IORunning, st.SQLRunning, st.LastIOError+st.LastSQLError))
	}
	return pos, nil
}

// becomePrimary promotes a replica: it stops fetching, applies everything
// already received (bounded by timeout), forgets its source and turns
// read_only off. It returns the GTID position it reached. A server that is
// no replica only has read_only turned off.
func (m mariadb) becomePrimary(ctx context.Context, timeout time.Duration) (string, error) {
	st, err := m.replicaStatus(ctx)
	if err != nil {
		return "", err
	}
	if st.Configured {
		if err := m.exec(ctx, "STOP SLAVE IO_THREAD"); err != nil {
			return "", err
		}
		if st, err = m.replicaStatus(ctx); err != nil {
			return "", err
		}
		if st.GTIDIOPos != "" && st.SQLRunning == "Yes" {
			var res sql.NullInt64
			if err := m.db.QueryRowContext(ctx, "SELECT MASTER_GTID_WAIT(?, ?)", st.GTIDIOPos, timeout.Seconds()).Scan(&res); err != nil {
				return "", sqlFailure(m.addr+": wait for the relay log to be applied", err)
			}
			if res.Int64 != 0 {
				return "", failure(CauseReplicationSQL, m.addr, fmt.Errorf("did not apply up to %s within %s; not promoted", st.GTIDIOPos, timeout))
			}
		}
		for _, q := range []string{"STOP SLAVE", "RESET SLAVE ALL"} {
			if err := m.exec(ctx, q); err != nil {
				return "", err
			}
		}
	}
	if err := m.exec(ctx, "SET GLOBAL read_only = 0"); err != nil {
		return "", err
	}
	var pos string
	if err := m.db.QueryRowContext(ctx, "SELECT @@gtid_current_pos").Scan(&pos); err != nil {
		return "", sqlFailure(m.addr+": read @@gtid_current_pos", err)
	}
	return pos, nil
}

// gtidSeqs parses a GTID position ("0-1-57,1-2-3") into domain -> (server, seq).
func gtidSeqs(pos string) map[string][2]uint64 {
	out := map[string][2]uint64{}
	for _, g := range strings.Split(pos, ",") {
		parts := strings.Split(strings.TrimSpace(g), "-")
		if len(parts) != 3 {
			continue
		}
		server, err1 := strconv.ParseUint(parts[1], 10, 64)
		seq, err2 := strconv.ParseUint(parts[2], 10, 64)
		if err1 == nil && err2 == nil {
			out[parts[0]] = [2]uint64{server, seq}
		}
	}
	return out
}

// diverged reports the domains in which old (the old primary's binlog) holds
// transactions beyond reached (what the standby had applied when promoted).
func diverged(old, reached string) []string {
	r := gtidSeqs(reached)
	var out []string
	for domain, o := range gtidSeqs(old) {
		if o[1] > r[domain][1] {
			out = append(out, fmt.Sprintf("domain %s: old primary at %s-%d-%d, standby promoted at seq %d", domain, domain, o[0], o[1], r[domain][1]))
		}
	}
	return out
}

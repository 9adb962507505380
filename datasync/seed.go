package datasync

import (
	"context"
	"io"
)

// dumpCommand writes a consistent logical dump of every database, accounts
// included, with the GTID position it was taken at (--gtid --master-data: the
// dump sets gtid_slave_pos). It runs on the source side as root (unix socket
// authentication), so it needs no password.
const dumpCommand = "mariadb-dump --all-databases --single-transaction --gtid --master-data=1 --flush-privileges " +
	"--routines --events --triggers --ignore-table=mysql.gtid_slave_pos"

// prepareReplica empties a replica's replication and binlog state: its own
// binlog must hold nothing the source never wrote, or GTID strict mode refuses
// the source's transactions later.
const prepareReplica = "mariadb -e 'STOP SLAVE; RESET SLAVE ALL; RESET MASTER; SET GLOBAL read_only = 1'"

// loadCommand applies a dump without writing it to the replica's binlog (the
// rows keep the source's GTIDs through gtid_slave_pos instead).
const loadCommand = "mariadb --init-command='SET SESSION sql_log_bin = 0'"

// seed copies the whole MariaDB of the side at from onto the side at to,
// streaming mariadb-dump from one SSH session into mariadb in another. It
// returns the dump's size. The caller then points the replica at its source.
func (c sshClient) seed(ctx context.Context, from, to string) (int64, error) {
	if err := c.Run(ctx, to, prepareReplica, nil, io.Discard); err != nil {
		return 0, err
	}
	pr, pw := io.Pipe()
	counted := &countingWriter{w: pw}
	dumpErr := make(chan error, 1)
	go func() {
		err := c.Run(ctx, from, dumpCommand, nil, counted)
		pw.CloseWithError(err)
		dumpErr <- err
	}()
	loadErr := c.Run(ctx, to, loadCommand, pr, io.Discard)
	pr.CloseWithError(io.ErrClosedPipe) // a load that stopped early must not block the dump
	if err := <-dumpErr; err != nil {
		return counted.n, err
	}
	return counted.n, loadErr
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

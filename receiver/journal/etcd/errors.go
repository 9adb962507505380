package etcd

import (
	"context"
	"errors"
	"fmt"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/vcrcovery/vcrcovery/receiver/journal"
)

// etcd's own defaults for the limits a transaction must stay under; the
// budget (Options.MaxTxnOps, MaxTxnBytes) keeps well below them.
const (
	etcdMaxTxnOps       = 128
	etcdMaxRequestBytes = 1536 * 1024
)

// classify turns an etcd client error into one the receiver can act on:
// journal.ErrUnavailable when no quorum answered in time (a retry may
// succeed), journal.ErrTooLarge when etcd refused the request's size (a
// retry fails the same way), journal.ErrFenced when this replica's lease is
// gone. what says what was being done; size is the request's, when known.
func (j *Journal) classify(what string, err error, size txnSize) error {
	var etcdErr rpctypes.EtcdError
	isEtcd := errors.As(err, &etcdErr)
	switch {
	case errors.Is(err, rpctypes.ErrTooManyOps):
		return fmt.Errorf("%s: %w: etcd refused a transaction of %d compares and %d operations: it allows at most --max-txn-ops of each (%d by default). Keep the journal's MaxTxnOps (%d) below etcd's flag, or raise the flag",
			what, journal.ErrTooLarge, size.cmps, size.ops, etcdMaxTxnOps, j.opts.MaxTxnOps)
	case errors.Is(err, rpctypes.ErrRequestTooLarge) || status.Code(err) == codes.ResourceExhausted:
		return fmt.Errorf("%s: %w: etcd refused a request of about %d bytes: it allows at most --max-request-bytes (%d by default) (%v). Keep the journal's MaxTxnBytes (%d) below etcd's flag, or raise the flag",
			what, journal.ErrTooLarge, size.bytes, etcdMaxRequestBytes, err, j.opts.MaxTxnBytes)
	case errors.Is(err, rpctypes.ErrLeaseNotFound):
		return fmt.Errorf("%s: %w", what, journal.ErrFenced)
	case errors.Is(err, rpctypes.ErrNoSpace):
		return fmt.Errorf("%s: %w: etcd's database is full (%v); raise etcd's --quota-backend-bytes, or compact and defragment etcd and shorten journal.retention",
			what, journal.ErrUnavailable, err)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("%s: %w", what, err) // the caller gave up
	case errors.Is(err, context.DeadlineExceeded),
		isEtcd && (etcdErr.Code() == codes.Unavailable || etcdErr.Code() == codes.DeadlineExceeded || etcdErr.Code() == codes.ResourceExhausted),
		status.Code(err) == codes.Unavailable, status.Code(err) == codes.DeadlineExceeded:
		return fmt.Errorf("%s: %w: etcd %v gave no answer backed by a quorum within %s (%v); check that a majority of etcd members runs and that they reach each other (the sender should retry)",
			what, journal.ErrUnavailable, j.opts.Endpoints, j.opts.RequestTimeout, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

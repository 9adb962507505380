package journal

import "errors"

// ErrUnavailable means the journal could not take or give its data in time:
// with etcd, no quorum answered (members down or partitioned, no leader, a
// request timed out) or its database is full. Nothing may be assumed
// written, and a retry may succeed once the backend is healthy again, so the
// webhook answers 503 and Alertmanager retries.
var ErrUnavailable = errors.New("journal unavailable")

// ErrTooLarge means a write exceeded a limit of the backend itself (etcd's
// --max-txn-ops or --max-request-bytes). Retrying the same write fails the
// same way. The backends split their writes so that no batch reaches those
// limits at their defaults; the error names the limit and what to change.
var ErrTooLarge = errors.New("journal write exceeds a limit of the backend")

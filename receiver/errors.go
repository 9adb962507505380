package receiver

import (
	"errors"

	"github.com/vcrcovery/vcrcovery/receiver/ownership"
)

// The kinds of failure the receiver's operations (Ingest, Manual,
// Acknowledge, ...) report. Each error still says in words what happened and what
// to do next; the kind only tells a caller how to react. http.go alone turns
// kinds into status codes.
var (
	// ErrNotFound: no such service or incident.
	ErrNotFound = errors.New("not found")
	// ErrInvalid: the request itself is wrong (an unknown kind, a flag the
	// operation does not take); repeating it cannot help.
	ErrInvalid = errors.New("invalid request")
	// ErrConflict: the service or incident is in a state that forbids the
	// operation now (an open incident, a running pipeline); waiting or
	// acknowledging first helps.
	ErrConflict = errors.New("conflict")
	// ErrNotOwner: another replica runs the incident; only it may write it.
	// It is the ownership seam's verdict of the same name.
	ErrNotOwner = ownership.ErrNotOwner
	// ErrUnavailable: nothing could be journaled; retrying later may succeed.
	ErrUnavailable = ownership.ErrUnavailable
)

// kindError marks an error with a kind without changing its message, so the
// words stay those of the cause while errors.Is finds both.
type kindError struct{ kind, err error }

func (e *kindError) Error() string   { return e.err.Error() }
func (e *kindError) Unwrap() []error { return []error{e.kind, e.err} }

// withKind marks err as kind (nil stays nil).
func withKind(kind, err error) error {
	if err == nil {
		return nil
	}
	return &kindError{kind: kind, err: err}
}

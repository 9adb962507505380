package lxd

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
)

// Sentinel errors for errors.Is. An *Error matches them by HTTP status (404,
// 409) and, where LXD gives no usable status, by the exact messages LXD
// itself writes for those conditions (see notFoundMessage and
// existsMessage), never by a loose substring.
var (
	// ErrNotFound: the instance, backup, operation or image does not exist.
	ErrNotFound = errors.New("lxd: not found")
	// ErrAlreadyExists: an instance (or backup) of that name already exists.
	ErrAlreadyExists = errors.New("lxd: already exists")
	// ErrLiveMigration marks a failed stateful (CRIU) migration, so callers
	// can fall back to a stateless move.
	ErrLiveMigration = errors.New("lxd: live migration failed")
	// ErrOperationTimeout: an operation was still running when the wait's
	// timeout passed. The operation itself goes on in the daemon.
	ErrOperationTimeout = errors.New("lxd: operation still running after the wait timeout")
)

// Error is a failure reported by LXD: either an error response to a request,
// or a background operation that ended in failure or was cancelled.
type Error struct {
	// StatusCode is the HTTP status of the error response. For a failed
	// operation it is LXD's operation status code (400 failure, 401 cancelled).
	StatusCode int
	// Message is LXD's own error text, unchanged.
	Message string
	// Method and Path name the request (for a failed operation, the
	// operation's path) so the error says where it happened.
	Method string
	Path   string
	// Operation is the ID of the failed background operation, if any.
	Operation string
}

func (e *Error) Error() string {
	where := strings.TrimSpace(e.Method + " " + e.Path)
	if e.Operation != "" {
		where = "operation " + e.Operation
		if e.Method != "" {
			where = e.Method + " " + e.Path + ": " + where
		}
	}
	hint := e.hint()
	if hint != "" {
		hint = " (" + hint + ")"
	}
	return fmt.Sprintf("lxd: %s: %d: %s%s", where, e.StatusCode, e.Message, hint)
}

// hint says what to do next for the statuses people hit most.
func (e *Error) hint() string {
	switch {
	case e.StatusCode == http.StatusForbidden:
		return "trust this client's certificate on the daemon: lxc config trust add <client.crt>"
	case e.Is(ErrNotFound):
		return "check the name, and that the client talks to the intended daemon and project"
	case e.Is(ErrAlreadyExists):
		return "delete or rename the existing one first, or pick another name"
	}
	return ""
}

// Is lets errors.Is match ErrNotFound and ErrAlreadyExists.
//
// A wrong match is costly: a caller that removes an instance treats "not
// found" as done, so a storage failure such as "zfs destroy: dataset not
// found" must not pass for it. Hence the status code decides wherever LXD
// gives one, and the message only where it cannot.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrNotFound:
		// LXD 5.0 answers a request about a missing instance, image, backup
		// or operation with a 404 before any operation starts. A failed
		// operation has no HTTP status, so there only LXD's own "<object>
		// not found", as the last clause of its message, counts.
		return e.StatusCode == http.StatusNotFound ||
			(e.Operation != "" && notFoundMessage.MatchString(e.Message))
	case ErrAlreadyExists:
		// LXD 5.0 reports a name already taken as a database conflict
		// inside an operation's error, or with status 500 when it surfaces
		// through a wrapped error (a copy onto an existing instance), so the
		// message counts for those too.
		return e.StatusCode == http.StatusConflict || existsMessage.MatchString(e.Message)
	}
	return false
}

var (
	// notFoundMessage is LXD's own error for a missing object, e.g.
	// "Failed getting image: Image not found". Only LXD's object kinds
	// count, and only as the final clause, so a tool's text quoted inside
	// ("zfs destroy: dataset not found") does not.
	notFoundMessage = regexp.MustCompile(`(^|: )(Instance|Instance snapshot|Instance backup|Image|Image alias|Profile|Project|Storage pool|Storage volume|Storage pool volume|Network|Operation|Certificate) not found$`)
	// existsMessage is LXD's database conflict on a name already taken
	// (`This "instances" entry already exists`, and for profiles, with
	// status 500, `The profile already exists`), and a backup import whose
	// instance volume is already there.
	existsMessage = regexp.MustCompile(`(^|: )(This "[a-z_]+" entry already exists|The profile already exists|Cannot restore volume, already exists on target)$`)
)

// liveMigrationError wraps a failed stateful migration so that errors.Is
// finds both ErrLiveMigration and the LXD *Error underneath.
type liveMigrationError struct{ err error }

func (l *liveMigrationError) Error() string {
	return l.err.Error() + " (live migration needs CRIU working on both daemons; retry as a stateless copy with Live=false)"
}
func (l *liveMigrationError) Unwrap() []error { return []error{ErrLiveMigration, l.err} }

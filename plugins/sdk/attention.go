package sdk

import (
	"errors"
	"strings"
)

// ErrNeedsAttention marks a Prepare failure that trying again cannot fix
// without a person: the standby has no room for the service, for example.
// The host then stops the incident in needs-attention at once instead of
// retrying it and failing it. errors.Is finds it in the error NeedsAttention
// returns, and, on the host side, in the *RemoteError that carries it back
// from the plugin process.
var ErrNeedsAttention = errors.New("needs attention")

// attentionPrefix carries the mark across the process boundary: the error
// message is all the protocol transports, so a marked error's text starts
// with it on the wire, and the host takes it off again.
const attentionPrefix = "needs attention: "

// NeedsAttention marks err as one only a person can resolve (see
// ErrNeedsAttention). Its message stays err's, which should say what to do.
func NeedsAttention(err error) error { return &attentionError{err: err} }

type attentionError struct{ err error }

func (e *attentionError) Error() string        { return e.err.Error() }
func (e *attentionError) Unwrap() error        { return e.err }
func (e *attentionError) Is(target error) bool { return target == ErrNeedsAttention }

// wireText is an error's text as the plugin side sends it.
func wireText(err error) string {
	msg := errorText(err)
	if errors.Is(err, ErrNeedsAttention) && !strings.HasPrefix(msg, attentionPrefix) {
		msg = attentionPrefix + msg
	}
	return msg
}

// fromWire is the host side's error for a plugin's error text.
func fromWire(msg string) *RemoteError {
	if rest, ok := strings.CutPrefix(msg, attentionPrefix); ok {
		return &RemoteError{Message: rest, attention: true}
	}
	return &RemoteError{Message: msg}
}

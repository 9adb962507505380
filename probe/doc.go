// Package probe decides whether a service endpoint is ready to take traffic:
// a TCP connect, optionally followed by an HTTP GET with an expected status.
// The receiver uses Wait in the verify phase (before switching DNS) and Once
// in the split-brain guard (does the failed primary still answer?).
package probe

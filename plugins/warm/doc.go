// Package warm is the warm-standby recovery strategy: the service's container
// already exists (and normally runs) on the standby's LXD, so recovery only
// makes sure it runs and returns where its proxy device listens.
//
// The LXD plumbing it shares with the other built-in strategies (reaching a
// remote, reading a proxy endpoint, making an instance run) lives in
// plugins/internal/strategy.
package warm

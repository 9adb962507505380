// Package warm is the warm-standby recovery strategy: the service's container
// already exists (and normally runs) on the standby's LXD, so recovery only
// makes sure it runs and returns where its proxy device listens.
//
// It also holds the LXD plumbing the other built-in strategies share: how a
// strategy reaches a configured remote (ConnectRemote), reads an endpoint off a
// proxy device (ProxyEndpoint) and makes an instance run (EnsureRunning).
package warm

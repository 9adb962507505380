// Package proto holds the wire protocol between vcr-receiver and strategy
// plugins: strategy.proto and the Go code protoc generates from it. It is
// internal to the SDK module: plugin authors and hosts use the sdk package,
// which wraps it, so the generated types never become part of the SDK's API.
// Regenerate with `make proto`.
package proto

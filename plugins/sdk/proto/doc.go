// Package proto holds the wire protocol between vcr-receiver and strategy
// plugins: strategy.proto and the Go code protoc generates from it. Plugin
// authors never use it directly; the sdk package wraps it. Regenerate with
// `make proto`.
package proto

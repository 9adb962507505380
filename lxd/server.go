package lxd

import (
	"context"
	"fmt"
	"net/http"
	"slices"
)

// Server is the part of GET /1.0 that callers need.
type Server struct {
	APIExtensions []string          `json:"api_extensions"`
	APIStatus     string            `json:"api_status"`
	APIVersion    string            `json:"api_version"`
	Auth          string            `json:"auth"` // "trusted" or "untrusted"
	Public        bool              `json:"public"`
	AuthMethods   []string          `json:"auth_methods"`
	Config        map[string]any    `json:"config"`
	Environment   ServerEnvironment `json:"environment"`
}

// ServerEnvironment describes the daemon and its host.
type ServerEnvironment struct {
	Addresses              []string `json:"addresses"`
	Architectures          []string `json:"architectures"`
	Certificate            string   `json:"certificate"` // PEM; the pull target of a migration needs it
	CertificateFingerprint string   `json:"certificate_fingerprint"`
	Driver                 string   `json:"driver"`
	DriverVersion          string   `json:"driver_version"`
	Kernel                 string   `json:"kernel"`
	KernelVersion          string   `json:"kernel_version"`
	ServerName             string   `json:"server_name"`
	ServerPID              int      `json:"server_pid"`
	ServerVersion          string   `json:"server_version"`
	Storage                string   `json:"storage"`
	StorageVersion         string   `json:"storage_version"`
	Project                string   `json:"project"`
}

// HasExtension reports whether the daemon announces an API extension.
func (s *Server) HasExtension(name string) bool { return slices.Contains(s.APIExtensions, name) }

// GetServer fetches GET /1.0 afresh.
func (c *Client) GetServer(ctx context.Context) (*Server, error) {
	var s Server
	if _, err := c.query(ctx, request{method: http.MethodGet, path: "/1.0", noProj: true}, &s); err != nil {
		return nil, fmt.Errorf("get server info: %w", err)
	}
	return &s, nil
}

// Server returns the server info read at Connect time.
func (c *Client) Server() *Server { return c.server }

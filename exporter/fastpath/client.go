package fastpath

import (
	"fmt"
	"net/http"

	"github.com/prometheus/common/config"
)

// NewHTTPClient builds the client the pushes go through from a Prometheus
// HTTP client configuration file: basic_auth, authorization (bearer token),
// oauth2, tls_config (CA, client certificate and key, server name),
// proxy_url, the same keys as http_config in Prometheus'
// alertmanager_config. Relative file names are relative to the file.
// Certificates and credential files are re-read when they change.
func NewHTTPClient(file string) (*http.Client, error) {
	cfg, _, err := config.LoadHTTPConfigFile(file)
	if err != nil {
		return nil, fmt.Errorf("--alertmanager.http-config-file %s: %w", file, err)
	}
	c, err := config.NewClientFromConfig(*cfg, "vcr-exporter")
	if err != nil {
		return nil, fmt.Errorf("--alertmanager.http-config-file %s: %w", file, err)
	}
	return c, nil
}

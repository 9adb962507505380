// Package deploy holds no code: it is the home of the deployment files (Prometheus, Alertmanager,
// Grafana, systemd units, example configs) and of the tests that check them.
package deploy

package main

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vcrcovery/vcrcovery/receiver/config"
	"github.com/vcrcovery/vcrcovery/receiver/journal"
	"github.com/vcrcovery/vcrcovery/receiver/journal/etcd"
)

// openJournal opens the configured backend: the embedded bbolt file, or the
// etcd cluster shared by several replicas.
func openJournal(c config.Journal, log *slog.Logger, reg prometheus.Registerer) (journal.Journal, error) {
	if c.Backend != "etcd" {
		return journal.OpenBolt(c.Path)
	}
	j, err := etcd.Open(context.Background(), etcd.Options{
		Endpoints: c.Endpoints, Prefix: c.Prefix, Replica: c.Replica,
		DialTimeout: c.DialTimeout, RequestTimeout: c.RequestTimeout, LeaseTTL: c.LeaseTTL,
		CAFile: c.TLS.CAFile, CertFile: c.TLS.CertFile, KeyFile: c.TLS.KeyFile,
		MaxTxnOps: c.MaxTxnOps, MaxTxnBytes: c.MaxTxnBytes,
		Logger: log.With("component", "etcd-journal"), Registry: reg,
	})
	if err != nil {
		return nil, err
	}
	log.Info("journal on etcd", "endpoints", c.Endpoints, "prefix", c.Prefix, "replica", j.Replica(), "lease_ttl", c.LeaseTTL)
	return j, nil
}

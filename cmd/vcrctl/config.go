package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/vcrcovery/vcrcovery/receiver/config"
)

func (a *app) checkConfigCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "check-config [FILE]",
		Short: "Validate a receiver configuration (default: --config.file), secrets included",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			file := a.configFile
			if len(args) == 1 {
				file = args[0]
			}
			cfg, err := config.Load(file)
			if err != nil {
				return fmt.Errorf("config is invalid:\n%w", err)
			}
			fmt.Fprintf(a.stdout, "%s: OK (%d services, %d DNS servers, %d LXD remotes)\n", file, len(cfg.Services), len(cfg.DNSServers), len(cfg.LXDRemotes))
			return nil
		},
	}
}

// loadConfigNoSecrets parses --config.file without reading the secret
// files it names: backups need the LXD remotes and the backup dir, not the
// API token or the TSIG key, and an operator may lack read access to those.
func (a *app) loadConfigNoSecrets() (*config.Config, error) {
	data, err := os.ReadFile(a.configFile)
	if err != nil {
		return nil, fmt.Errorf("read the receiver config: %w; give it with --config.file", err)
	}
	cfg, err := config.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", a.configFile, err)
	}
	return cfg, nil
}

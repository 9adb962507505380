package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/vcrcovery/vcrcovery/internal/humanize"
	"github.com/vcrcovery/vcrcovery/plugins/backupstore"
	"github.com/vcrcovery/vcrcovery/receiver/config"
)

func (a *app) backupCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "backup",
		Short: "Create, list and prune the cold standby's backups (reads --config.file)",
	}
	cmd.AddCommand(a.backupCreateCmd(), a.backupListCmd(), a.backupPruneCmd())
	return cmd
}

// backupTarget resolves a service's cold settings and the backup store.
func (a *app) backupTarget(service string) (*config.Config, *config.Service, backupstore.Settings, *backupstore.Store, error) {
	cfg, err := a.loadConfigNoSecrets()
	if err != nil {
		return nil, nil, backupstore.Settings{}, nil, err
	}
	svc := cfg.Service(service)
	if svc == nil {
		return nil, nil, backupstore.Settings{}, nil, fmt.Errorf("no service %q in %s: see vcrctl status for the names", service, a.configFile)
	}
	settings, err := backupstore.ParseSettings(svc.Strategy.SettingsJSON)
	if err != nil {
		return nil, nil, backupstore.Settings{}, nil, fmt.Errorf("service %s (strategy %s) has no usable backup settings: %w", service, svc.Strategy.Name, err)
	}
	if cfg.BackupDir == "" {
		return nil, nil, backupstore.Settings{}, nil, fmt.Errorf("%s sets no backup_dir: add one to keep backups", a.configFile)
	}
	store, err := backupstore.Open(cfg.BackupDir)
	if err != nil {
		return nil, nil, backupstore.Settings{}, nil, err
	}
	return cfg, svc, settings, store, nil
}

func (a *app) backupCreateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "create SERVICE",
		Short: "Export SERVICE's container from its source LXD into the backup dir, then prune to the retention",
		Args:  exactArgs(1, "give the service name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, svc, _, _, err := a.backupTarget(args[0])
			if err != nil {
				return err
			}
			start := time.Now()
			b, pruned, err := backupstore.CreateForService(cmd.Context(), svc.Name, svc.Strategy.SettingsJSON, cfg.Shared())
			if err != nil {
				return err
			}
			if a.output == "json" {
				return writeJSON(a.stdout, map[string]any{"created": backupJSON(b), "pruned": backupsJSON(pruned)})
			}
			fmt.Fprintf(a.stdout, "Created %s (%s, %s)\n", b.Path, humanize.Bytes(b.Size), dur(time.Since(start)))
			for _, p := range pruned {
				fmt.Fprintf(a.stdout, "Pruned  %s\n", p.Path)
			}
			return nil
		},
	}
}

func (a *app) backupListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list SERVICE",
		Short: "List SERVICE's backups, newest first",
		Args:  exactArgs(1, "give the service name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, svc, settings, store, err := a.backupTarget(args[0])
			if err != nil {
				return err
			}
			bs, err := store.List(settings.FolderFor(svc.Name))
			if err != nil {
				return err
			}
			if a.output == "json" {
				return writeJSON(a.stdout, backupsJSON(bs))
			}
			if len(bs) == 0 {
				fmt.Fprintf(a.stdout, "No backups of %s in %s: make one with vcrctl backup create %s\n", svc.Name, store.Dir(), svc.Name)
				return nil
			}
			tw := newTable(a.stdout)
			fmt.Fprintln(tw, "BACKUP\tTIME\tAGE\tSIZE\tCHECKSUM")
			for _, b := range bs {
				sum := "sha256"
				if !b.HasChecksum {
					sum = "missing (skipped by restores)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", b.Name(), stamp(b.Time), ago(a.now(), b.Time), humanize.Bytes(b.Size), sum)
			}
			return tw.Flush()
		},
	}
}

func (a *app) backupPruneCmd() *cobra.Command {
	var keep int
	cmd := &cobra.Command{
		Use:   "prune SERVICE",
		Short: "Delete all but the newest --keep backups of SERVICE (default: the strategy's keep setting)",
		Args:  exactArgs(1, "give the service name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, svc, settings, store, err := a.backupTarget(args[0])
			if err != nil {
				return err
			}
			if !cmd.Flags().Changed("keep") {
				keep = settings.Keep
			}
			removed, err := store.Prune(settings.FolderFor(svc.Name), keep)
			if a.output == "json" && err == nil {
				return writeJSON(a.stdout, backupsJSON(removed))
			}
			for _, b := range removed {
				fmt.Fprintf(a.stdout, "Pruned %s\n", b.Path)
			}
			if err != nil {
				return err
			}
			if len(removed) == 0 {
				fmt.Fprintf(a.stdout, "Nothing to prune: %s has at most %d backups.\n", svc.Name, keep)
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&keep, "keep", 0, "how many of the newest backups to keep (at least 1)")
	return cmd
}

type backupOut struct {
	Service     string    `json:"service"`
	Name        string    `json:"name"`
	Path        string    `json:"path"`
	Time        time.Time `json:"time"`
	Size        int64     `json:"size_bytes"`
	HasChecksum bool      `json:"has_checksum"`
}

func backupJSON(b backupstore.Backup) backupOut {
	return backupOut{Service: b.Service, Name: b.Name(), Path: b.Path, Time: b.Time, Size: b.Size, HasChecksum: b.HasChecksum}
}

func backupsJSON(bs []backupstore.Backup) []backupOut {
	out := make([]backupOut, 0, len(bs))
	for _, b := range bs {
		out = append(out, backupJSON(b))
	}
	return out
}

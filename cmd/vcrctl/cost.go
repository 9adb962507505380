package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vcrcovery/vcrcovery/cost"
)

func (a *app) costCmd() *cobra.Command {
	var costFile string
	var noMeasure bool
	cmd := &cobra.Command{
		Use:   "cost",
		Short: "Price the standby designs from the cost config, with the receiver's measured recovery times",
		Long: `cost compares the yearly cost of conventional warm standby (one spare VM per
primary), VCRcovery warm (one VM holding a container per service), conventional
cold standby (backups only) and VCRcovery cold (one VM shared by k tenants).
Prices come from the cost: block of --config.file, or from --cost.file. The
recovery times are medians of the receiver's completed recoveries (detect to
DNS switch), fetched from --receiver.url unless --no-measure.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			file := costFile
			if file == "" {
				file = a.configFile
			}
			cfg, err := cost.Load(file)
			if err != nil {
				return err
			}
			var rec map[string]cost.Recovery
			if !noMeasure {
				c, err := a.client()
				if err != nil {
					return err
				}
				incs, err := c.Incidents(cmd.Context())
				if err != nil {
					fmt.Fprintf(a.stderr, "vcrctl: recovery times not shown: %v\n", err)
				} else {
					rec = cost.RecoveryTimes(incs)
				}
			}
			r := cost.Compute(cfg, rec)
			if a.output == "json" {
				return writeJSON(a.stdout, r)
			}
			return r.WriteTable(a.stdout)
		},
	}
	cmd.Flags().StringVar(&costFile, "cost.file", "", "a cost config file (default: the cost: block of --config.file)")
	cmd.Flags().BoolVar(&noMeasure, "no-measure", false, "do not ask the receiver for measured recovery times")
	return cmd
}

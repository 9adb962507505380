package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/vcrcovery/vcrcovery/receiver/api"
)

// DefaultReceiverURL is where vcr-receiver listens by default.
const DefaultReceiverURL = "http://127.0.0.1:9478"

// app holds the global flags and what the commands share. Tests build one
// with a fixed clock.
type app struct {
	receiverURL  string
	tokenFile    string
	username     string
	passwordFile string
	configFile   string
	output       string
	timeout      time.Duration
	caFile       string
	certFile     string
	keyFile      string
	yes          bool

	stdin          io.Reader
	stdout, stderr io.Writer
	now            func() time.Time
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, now: time.Now}
	return a.execute(args)
}

func (a *app) execute(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := a.rootCmd()
	root.SetArgs(args)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(a.stderr, "vcrctl:", err)
		var ue usageError
		if errors.As(err, &ue) {
			return 2
		}
		return 1
	}
	return 0
}

// usageError marks errors in how vcrctl was called (exit code 2).
type usageError struct{ error }

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "vcrctl",
		Short: "Operate vcr-receiver: status, incidents, failovers, drills, failbacks, maintenance, backups and standby cost",
		Long: `vcrctl talks to vcr-receiver's API (--receiver.url, or $VCR_RECEIVER_URL).
Commands that need the receiver's configuration read --config.file.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if a.output != "table" && a.output != "json" {
				return usageError{fmt.Errorf("-o %q: use table or json", a.output)}
			}
			return nil
		},
	}
	url := os.Getenv("VCR_RECEIVER_URL")
	if url == "" {
		url = DefaultReceiverURL
	}
	cfgFile := os.Getenv("VCR_CONFIG_FILE")
	if cfgFile == "" {
		cfgFile = "/etc/vcr/receiver.yml"
	}
	f := root.PersistentFlags()
	f.StringVar(&a.receiverURL, "receiver.url", url, "vcr-receiver's base URL (env VCR_RECEIVER_URL)")
	f.StringVar(&a.tokenFile, "token-file", "", "file holding the API bearer token (default: env VCR_TOKEN)")
	f.StringVar(&a.username, "basic-auth.username", os.Getenv("VCR_USERNAME"), "basic auth user, instead of a bearer token (env VCR_USERNAME)")
	f.StringVar(&a.passwordFile, "basic-auth.password-file", "", "file holding the basic auth password (default: env VCR_PASSWORD)")
	f.BoolVarP(&a.yes, "yes", "y", false, "do not ask before failover, drill, failback, retry, cancel and maintenance (for scripts)")
	f.StringVar(&a.configFile, "config.file", cfgFile, "the receiver's configuration, for check-config, backup, standby and cost (env VCR_CONFIG_FILE)")
	f.StringVarP(&a.output, "output", "o", "table", "output format: table or json")
	f.DurationVar(&a.timeout, "timeout", 30*time.Second, "bound on each request to the receiver")
	f.StringVar(&a.caFile, "tls.ca-file", "", "CA certificate to verify the receiver's HTTPS certificate")
	f.StringVar(&a.certFile, "tls.cert-file", "", "client certificate for mTLS")
	f.StringVar(&a.keyFile, "tls.key-file", "", "client key for mTLS")

	root.AddCommand(a.statusCmd(), a.incidentsCmd(), a.showCmd(), a.eventsCmd(),
		a.failoverCmd(), a.drillCmd(), a.failbackCmd(), a.ackCmd(), a.maintenanceCmd(),
		a.checkConfigCmd(), a.backupCmd(), a.standbyCmd(), a.costCmd(), a.capacityCmd(), a.uiCmd())
	return root
}

// client builds the API client from the global flags.
func (a *app) client() (*api.Client, error) {
	token := os.Getenv("VCR_TOKEN")
	if a.tokenFile != "" {
		b, err := os.ReadFile(a.tokenFile)
		if err != nil {
			return nil, fmt.Errorf("read --token-file: %w", err)
		}
		token = strings.TrimSpace(string(b))
		if token == "" {
			return nil, fmt.Errorf("--token-file %s is empty: put the receiver's bearer token in it", a.tokenFile)
		}
	}
	c := api.New(a.receiverURL, token)
	if a.username != "" {
		if token != "" {
			return nil, fmt.Errorf("both a bearer token (--token-file or VCR_TOKEN) and --basic-auth.username are set: keep one")
		}
		c.Username, c.Password = a.username, os.Getenv("VCR_PASSWORD")
		if a.passwordFile != "" {
			b, err := os.ReadFile(a.passwordFile)
			if err != nil {
				return nil, fmt.Errorf("read --basic-auth.password-file: %w", err)
			}
			c.Password = strings.TrimRight(string(b), "\r\n")
		}
		if c.Password == "" {
			return nil, fmt.Errorf("--basic-auth.username %s has no password: give --basic-auth.password-file or VCR_PASSWORD", a.username)
		}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if a.caFile != "" || a.certFile != "" {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if a.caFile != "" {
			pem, err := os.ReadFile(a.caFile)
			if err != nil {
				return nil, fmt.Errorf("read --tls.ca-file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("--tls.ca-file %s holds no PEM certificate", a.caFile)
			}
			tc.RootCAs = pool
		}
		if a.certFile != "" {
			cert, err := tls.LoadX509KeyPair(a.certFile, a.keyFile)
			if err != nil {
				return nil, fmt.Errorf("load --tls.cert-file/--tls.key-file: %w", err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		tr.TLSClientConfig = tc
	}
	c.HTTPClient = &http.Client{Timeout: a.timeout, Transport: tr}
	return c, nil
}

package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"

	"github.com/spf13/cobra"

	"github.com/vcrcovery/vcrcovery/cost"
	"github.com/vcrcovery/vcrcovery/receiver/api"
	"github.com/vcrcovery/vcrcovery/receiver/ui"
)

func (a *app) uiCmd() *cobra.Command {
	var listen, costFile string
	var readOnly bool
	cmd := &cobra.Command{
		Use:   "ui",
		Short: "Serve the receiver's status page from here, against --receiver.url",
		Long: `ui serves the same status page vcr-receiver serves at /, reading services and
incidents from --receiver.url. With a readable --config.file it also shows the
standby VMs' containers (from lxd_remotes) and the cost model. The action
buttons post to this server, which forwards /api/v1/ to the receiver with
your token: keep --listen on loopback, or use --read-only.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			h, err := a.uiHandler(costFile, readOnly)
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("listen on %s: %w; pick another --listen", listen, err)
			}
			srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
			fmt.Fprintf(a.stderr, "vcrctl: status page for %s at http://%s/\n", a.receiverURL, ln.Addr())
			go func() {
				<-cmd.Context().Done()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = srv.Shutdown(ctx)
			}()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:9479", "address to serve the page on")
	cmd.Flags().StringVar(&costFile, "cost.file", "", "a cost config file (default: the cost: block of --config.file, if any)")
	cmd.Flags().BoolVar(&readOnly, "read-only", false, "hide the action buttons and forward nothing to the receiver")
	return cmd
}

// uiHandler is the page plus, unless read-only, a proxy that forwards the
// action forms' POSTs to the receiver with the operator's credentials.
func (a *app) uiHandler(costFile string, readOnly bool) (http.Handler, error) {
	c, err := a.client()
	if err != nil {
		return nil, err
	}
	src := ui.FromClient(c)
	if cfg, err := a.loadConfigNoSecrets(); err != nil {
		fmt.Fprintf(a.stderr, "vcrctl: standby VMs not shown: %v\n", err)
	} else if len(cfg.LXDRemotes) > 0 {
		src.StandbyFunc = ui.NewLXDStandby(cfg.LXDRemotes).Standby
	}
	file := costFile
	if file == "" {
		file = a.configFile
	}
	if cc, err := cost.Load(file); err != nil {
		fmt.Fprintf(a.stderr, "vcrctl: cost section not shown: %v\n", err)
	} else {
		src.CostConfig = func() *cost.Config { return cc }
	}
	mux := http.NewServeMux()
	mux.Handle("/", ui.New(src, ui.Options{ReadOnly: readOnly, Title: "VCRcovery"}))
	if !readOnly {
		proxy, err := apiProxy(c)
		if err != nil {
			return nil, err
		}
		// The proxy adds the operator's token, so another site must not be
		// able to make the browser post through it.
		mux.Handle("POST /api/v1/", http.NewCrossOriginProtection().Handler(proxy))
	}
	return mux, nil
}

func apiProxy(c *api.Client) (http.Handler, error) {
	target, err := url.Parse(c.BaseURL)
	if err != nil || target.Host == "" {
		return nil, fmt.Errorf("--receiver.url %q is not a URL like http://127.0.0.1:9478", c.BaseURL)
	}
	return &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Header.Del("Cookie")
			r.Out.Header.Del("Authorization")
			// This server checked the browser's origin already; the request
			// it sends on is its own, made with the operator's credentials,
			// and must not look cross-origin to the receiver, whose host
			// differs from this page's.
			for _, h := range []string{"Origin", "Referer", "Sec-Fetch-Site", "Sec-Fetch-Mode", "Sec-Fetch-Dest", "Sec-Fetch-User"} {
				r.Out.Header.Del(h)
			}
			switch {
			case c.Token != "":
				r.Out.Header.Set("Authorization", "Bearer "+c.Token)
			case c.Username != "":
				r.Out.SetBasicAuth(c.Username, c.Password)
			}
		},
		Transport: c.HTTPClient.Transport,
	}, nil
}

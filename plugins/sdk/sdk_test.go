package sdk_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/vcrcovery/vcrcovery/plugins/sdk"
	"github.com/vcrcovery/vcrcovery/plugins/sdk/sdktest"
)

// envServeVersion makes this test binary act as a plugin serving the given
// protocol version (0: all of them), so the handshake tests run against a
// real process.
const envServeVersion = "SDK_TEST_SERVE_VERSION"

func TestMain(m *testing.M) {
	if v := os.Getenv(envServeVersion); v != "" {
		version, _ := strconv.Atoi(v)
		sets := sdk.VersionedPlugins(&fake{})
		if version != 0 {
			sets = map[int]plugin.PluginSet{version: sets[sdk.ProtocolVersion]}
		}
		plugin.Serve(&plugin.ServeConfig{
			HandshakeConfig:  sdk.Handshake(),
			VersionedPlugins: sets,
			GRPCServer:       plugin.DefaultGRPCServer,
		})
		os.Exit(0)
	}
	actAsHostOrPlugin()
	os.Exit(m.Run())
}

// fake records what it receives and answers from its fields.
type fake struct {
	mu        sync.Mutex
	prepared  sdk.PrepareRequest
	final     sdk.FinalizeRequest
	validated sdk.ValidateRequest
	aborted   []sdk.AbortRequest
	sawDone   chan struct{} // closed when Prepare observed cancellation
	doneOnce  sync.Once

	infoErr, validateErr, prepareErr, finalizeErr, abortErr error
	progress                                                []string
	block                                                   bool
}

func (f *fake) Info(context.Context) (sdk.Info, error) {
	if f.infoErr != nil {
		return sdk.Info{}, f.infoErr
	}
	return sdk.Info{Name: "fake", Version: "1.2.3", Description: "a fake strategy"}, nil
}

func (f *fake) ValidateConfig(_ context.Context, req sdk.ValidateRequest) error {
	f.mu.Lock()
	f.validated = req
	f.mu.Unlock()
	if f.validateErr != nil {
		return f.validateErr
	}
	var v map[string]any
	if err := json.Unmarshal(req.Settings, &v); err != nil {
		return fmt.Errorf("settings: %w", err)
	}
	return nil
}

func (f *fake) Prepare(ctx context.Context, req sdk.PrepareRequest, progress sdk.ProgressFunc) (sdk.Endpoint, error) {
	f.mu.Lock()
	f.prepared = req
	f.mu.Unlock()
	for _, p := range f.progress {
		progress(sdk.Progress{Time: time.Unix(1700000000, 42), Message: p})
	}
	if f.block || req.Reason == "block" {
		<-ctx.Done()
		if f.sawDone != nil {
			f.doneOnce.Do(func() { close(f.sawDone) })
		}
		return sdk.Endpoint{}, fmt.Errorf("prepare interrupted: %w", ctx.Err())
	}
	if f.prepareErr != nil {
		return sdk.Endpoint{}, f.prepareErr
	}
	return sdk.Endpoint{Address: "127.0.0.2", Port: 8080, Details: map[string]string{"container": "web"}}, nil
}

func (f *fake) Finalize(_ context.Context, req sdk.FinalizeRequest) error {
	f.mu.Lock()
	f.final = req
	f.mu.Unlock()
	return f.finalizeErr
}

func (f *fake) Abort(_ context.Context, req sdk.AbortRequest) error {
	f.mu.Lock()
	f.aborted = append(f.aborted, req)
	f.mu.Unlock()
	return f.abortErr
}

func TestRoundTripOverGRPC(t *testing.T) {
	f := &fake{progress: []string{"starting container web", "container web running"}}
	s := sdktest.GRPC(t, f)
	ctx := context.Background()

	info, err := s.Info(ctx)
	if err != nil || info != (sdk.Info{Name: "fake", Version: "1.2.3", Description: "a fake strategy"}) {
		t.Fatalf("Info = %+v, %v", info, err)
	}
	vreq := sdk.ValidateRequest{Service: "web", Settings: json.RawMessage(`{"a":1}`), Shared: json.RawMessage(`{"backup_dir":"/b"}`)}
	if err := s.ValidateConfig(ctx, vreq); err != nil {
		t.Fatalf("ValidateConfig(valid) = %v", err)
	}
	if !reflect.DeepEqual(f.validated, vreq) {
		t.Errorf("plugin validated %+v, want %+v", f.validated, vreq)
	}

	req := sdk.PrepareRequest{
		IncidentID: "inc-1", Service: "web", Reason: "VCRDomainCrashed",
		Settings: json.RawMessage(`{"container":"web"}`),
		Shared:   json.RawMessage(`{"backup_dir":"/b"}`),
		Labels:   map[string]string{"domain": "vm1"},
	}
	var got []sdk.Progress
	ep, err := s.Prepare(ctx, req, func(p sdk.Progress) { got = append(got, p) })
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	want := sdk.Endpoint{Address: "127.0.0.2", Port: 8080, Details: map[string]string{"container": "web"}}
	if !reflect.DeepEqual(ep, want) {
		t.Errorf("endpoint = %+v, want %+v", ep, want)
	}
	if !reflect.DeepEqual(f.prepared, req) {
		t.Errorf("plugin received %+v, want %+v", f.prepared, req)
	}
	if len(got) != 2 || got[0].Message != "starting container web" || got[1].Message != "container web running" {
		t.Fatalf("progress = %+v", got)
	}
	if !got[0].Time.Equal(time.Unix(1700000000, 42)) {
		t.Errorf("progress time = %v, want the plugin's timestamp", got[0].Time)
	}

	freq := sdk.FinalizeRequest{IncidentID: "inc-1", Service: "web", Settings: req.Settings, Shared: req.Shared, Endpoint: want}
	if err := s.Finalize(ctx, freq); err != nil {
		t.Fatalf("Finalize: %v", err)
	}
	if !reflect.DeepEqual(f.final, freq) {
		t.Errorf("plugin received %+v, want %+v", f.final, freq)
	}

	areq := sdk.AbortRequest{IncidentID: "inc-1", Service: "web", Reason: "verify failed", Settings: req.Settings, Shared: req.Shared, Endpoint: want}
	if err := s.Abort(ctx, areq); err != nil {
		t.Fatalf("Abort: %v", err)
	}
	if len(f.aborted) != 1 || !reflect.DeepEqual(f.aborted[0], areq) {
		t.Errorf("plugin received %+v, want one %+v", f.aborted, areq)
	}
}

func TestProgressNilFunc(t *testing.T) {
	s := sdktest.GRPC(t, &fake{progress: []string{"one"}})
	if _, err := s.Prepare(context.Background(), sdk.PrepareRequest{}, nil); err != nil {
		t.Fatalf("Prepare with nil progress: %v", err)
	}
}

func TestErrorsKeepTheirMessage(t *testing.T) {
	const msg = "standby lxd: connection refused; check lxd_remotes.standby"
	f := &fake{
		infoErr:     errors.New("info: " + msg),
		validateErr: errors.New("settings.container: required"),
		prepareErr:  errors.New(msg),
		finalizeErr: errors.New("finalize: " + msg),
		abortErr:    errors.New("abort: " + msg),
	}
	s := sdktest.GRPC(t, f)
	ctx := context.Background()
	var remote *sdk.RemoteError

	if _, err := s.Info(ctx); err == nil || err.Error() != "info: "+msg || !errors.As(err, &remote) {
		t.Errorf("Info error = %v", err)
	}
	if err := s.ValidateConfig(ctx, sdk.ValidateRequest{Settings: json.RawMessage(`{}`)}); err == nil || err.Error() != "settings.container: required" {
		t.Errorf("ValidateConfig error = %v", err)
	}
	if _, err := s.Prepare(ctx, sdk.PrepareRequest{}, nil); err == nil || err.Error() != msg || !errors.As(err, &remote) {
		t.Errorf("Prepare error = %v", err)
	}
	if err := s.Finalize(ctx, sdk.FinalizeRequest{}); err == nil || err.Error() != "finalize: "+msg {
		t.Errorf("Finalize error = %v", err)
	}
	if err := s.Abort(ctx, sdk.AbortRequest{}); err == nil || err.Error() != "abort: "+msg || !errors.As(err, &remote) {
		t.Errorf("Abort error = %v", err)
	}
}

func TestPrepareCancellationReachesPlugin(t *testing.T) {
	f := &fake{block: true, sawDone: make(chan struct{}), progress: []string{"working"}}
	s := sdktest.GRPC(t, f)
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		_, err := s.Prepare(ctx, sdk.PrepareRequest{}, func(sdk.Progress) { close(started) })
		errc <- err
	}()
	<-started
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Prepare error = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Prepare did not return after cancel")
	}
	select {
	case <-f.sawDone:
	case <-time.After(5 * time.Second):
		t.Fatal("the plugin's context was not cancelled")
	}
}

func TestConformanceOfFake(t *testing.T) {
	sdktest.Conformance(t, func() sdk.Strategy { return &fake{} }, sdktest.Fixture{
		Settings:        json.RawMessage(`{"x":1}`),
		Request:         &sdk.PrepareRequest{Service: "web"},
		BlockingPrepare: &sdk.PrepareRequest{Service: "web", Reason: "block"},
	})
}

func TestHandshakeRefusesUnknownVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a plugin process")
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = []string{envServeVersion + "=7"}
	client := plugin.NewClient(sdk.ClientConfig(cmd))
	defer client.Kill()
	_, err := client.Client()
	if err == nil {
		t.Fatal("a plugin speaking protocol 7 was accepted")
	}
	err = sdk.ExplainStartError("vcr-strategy-future", err)
	if !errors.Is(err, sdk.ErrIncompatibleVersion) {
		t.Fatalf("error %v does not wrap ErrIncompatibleVersion", err)
	}
	for _, want := range []string{"vcr-strategy-future", "speaks protocol version 7", "supports strategy protocol version(s) 1, 2", "rebuild the plugin"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestHandshakeAcceptsCurrentVersion(t *testing.T) {
	s, client := startServing(t, sdk.ClientConfig, sdk.ProtocolVersion)
	info, err := s.Info(context.Background())
	if err != nil || info.Name != "fake" {
		t.Fatalf("Info = %+v, %v", info, err)
	}
	if v := client.NegotiatedVersion(); v != sdk.ProtocolVersion {
		t.Errorf("negotiated version %d, want %d", v, sdk.ProtocolVersion)
	}
}

package deploy

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vcrcovery/vcrcovery/receiver/config"
)

func TestReceiverExampleConfigValidates(t *testing.T) {
	b, err := os.ReadFile("examples/vcr-receiver.yml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(b)
	if err != nil {
		t.Fatalf("deploy/examples/vcr-receiver.yml: %v", err)
	}
	// The paths the systemd unit sandboxes around.
	if cfg.Journal.Path != "/var/lib/vcr-receiver/journal.db" || cfg.Plugins.Dir != "/usr/lib/vcr/plugins" {
		t.Errorf("journal %q, plugins %q: keep them where vcr-receiver.service allows writing and executing",
			cfg.Journal.Path, cfg.Plugins.Dir)
	}
}

// systemd-analyze works without a running systemd: verify catches unknown keys and bad values,
// security scores the sandbox (0 = fully locked down, 10 = none).
func TestSystemdUnits(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed (Debian package systemd): unit files not checked")
	}
	for _, unit := range []string{"vcr-exporter.service", "vcr-receiver.service"} {
		t.Run(unit, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("systemd", unit))
			if err != nil {
				t.Fatal(err)
			}
			// verify also insists that ExecStart exists; point it at a real executable.
			text := strings.NewReplacer("/usr/bin/vcr-exporter", "/bin/true", "/usr/bin/vcr-receiver", "/bin/true").Replace(string(b))
			p := filepath.Join(t.TempDir(), unit)
			if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			cmd := exec.Command(sa, "verify", p)
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Run(); err != nil || out.Len() > 0 {
				t.Errorf("systemd-analyze verify %s: %v\n%s", unit, err, out.String())
			}
			// --threshold is in tenths: fail above an exposure of 2.0 ("OK" is below 3).
			out.Reset()
			cmd = exec.Command(sa, "security", "--offline=yes", "--threshold=20", p)
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Run(); err != nil {
				t.Errorf("systemd-analyze security %s: exposure above 2.0 (%v)\n%s", unit, err, out.String())
			}
			t.Log(lastLine(out.String()))
		})
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// The exporter's unit reads libvirt through the read-only socket and starts
// after libvirt, run either as the monolithic libvirtd or as the modular
// daemons.
func TestExporterUnitReadsLibvirtReadOnly(t *testing.T) {
	unit, err := os.ReadFile("systemd/vcr-exporter.service")
	if err != nil {
		t.Fatal(err)
	}
	var after string
	for _, line := range strings.Split(string(unit), "\n") {
		if strings.HasPrefix(line, "After=") {
			after = line
		}
	}
	for _, u := range []string{"libvirtd.service", "virtqemud.service", "virtqemud.socket", "virtqemud-ro.socket"} {
		if !strings.Contains(after, " "+u) {
			t.Errorf("vcr-exporter.service: After= lacks %s: %q", u, after)
		}
	}
	env, err := os.ReadFile("examples/vcr-exporter.env")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(env), "--libvirt.socket=/run/libvirt/libvirt-sock-ro ") {
		t.Error("examples/vcr-exporter.env: the exporter should read libvirt through /run/libvirt/libvirt-sock-ro")
	}
}

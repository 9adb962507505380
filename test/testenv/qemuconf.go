package testenv

import (
	"os"
	"regexp"
	"strings"
)

const qemuConf = "/etc/libvirt/qemu.conf"

// qemuConfRoot is appended to qemu.conf. Why: libvirt keeps its QEMU capabilities
// cache only while /dev/kvm is accessible to the user QEMU runs as. /dev/kvm is
// root-only here, so with the default libvirt-qemu user libvirt finds the cache
// stale ("KVM was enabled when probing, but it is not available now") and
// re-probes QEMU on every call that needs it: 5 s idle, a minute under load.
const qemuConfRoot = `
# Added by VCRcovery test/testenv: QEMU runs as root, so libvirt sees /dev/kvm as
# accessible and keeps its QEMU capabilities cache (otherwise it re-probes QEMU on
# every call, 5-60 s each). Test domains stay type='qemu' (TCG).
user = "+0"
group = "+0"
`

var qemuConfUser = regexp.MustCompile(`(?m)^\s*user\s*=`)

// ensureQemuConfRoot makes QEMU run as root unless qemu.conf already names a
// user. It takes effect at libvirtd's next start.
func ensureQemuConfRoot(t TB) {
	b, err := os.ReadFile(qemuConf)
	if err != nil {
		t.Logf("testenv: cannot read %s (%v); QEMU capability probes may be slow", qemuConf, err)
		return
	}
	if qemuConfUser.Match(b) {
		if !strings.Contains(string(b), "Added by VCRcovery test/testenv") {
			t.Logf("testenv: %s sets its own QEMU user; if it cannot open /dev/kvm, libvirt re-probes QEMU on every call", qemuConf)
		}
		return
	}
	st, err := os.Stat(qemuConf)
	if err != nil {
		return
	}
	if err := writeFileAtomic(qemuConf, append(b, qemuConfRoot...), st.Mode().Perm()); err != nil {
		t.Logf("testenv: could not set user = \"+0\" in %s: %v", qemuConf, err)
		return
	}
	t.Logf("testenv: set user/group = \"+0\" in %s so libvirt keeps its QEMU capabilities cache", qemuConf)
}

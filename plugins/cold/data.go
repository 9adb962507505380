package cold

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/vcrcovery/vcrcovery/lxd"
	"github.com/vcrcovery/vcrcovery/plugins/backupstore"
)

// KeyData records which data backup an incident applied to a restored
// instance ("<incident> <backup>"), so a second Prepare of the incident does
// not load it twice, while an export taken of that instance later and
// restored in another incident still gets its data.
const KeyData = "user.vcrcovery.data"

// dataInside is where the data tarball is pushed inside the container.
const dataInside = "/root/vcr-sync-data.tar.gz"

// applyDataScript loads a vcr-sync-data/1 tarball inside the restored
// container: it waits for MariaDB, loads the dump (the whole server, so a
// second load gives the same result), makes the server a standalone primary
// (the export may come from a replica: forget its source, read_only off),
// and copies the declared paths over the container's. It runs as root, so
// MariaDB's unix-socket login needs no password.
const applyDataScript = `set -e
d=$(mktemp -d)
trap 'rm -rf "$d" ` + dataInside + `' EXIT
tar -xzf ` + dataInside + ` -C "$d"
if [ -f "$d/vcr-sync/mariadb.sql" ]; then
	i=0
	until mariadb-admin ping >/dev/null 2>&1; do
		i=$((i+1)); [ $i -lt 240 ] || { echo "MariaDB did not start within 120 s" >&2; exit 3; }
		sleep 0.5
	done
	mariadb -e 'STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only = 0'
	mariadb --init-command='SET SESSION sql_log_bin = 0' < "$d/vcr-sync/mariadb.sql"
	mariadb -e 'STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only = 0'
fi
if [ -d "$d/vcr-sync/files" ]; then
	cp -a "$d/vcr-sync/files/." /
fi
`

// applyData loads the service's newest good data backup (a database dump
// and files vcr-sync took from the primary) into the restored, running
// instance name. A service without data backups is left as the export
// restored it. A data backup that fails its checksum or its load is skipped
// for the next-newest, as exports are.
func (r *restorer) applyData(ctx context.Context, store *backupstore.Store, folder, name string) (string, error) {
	data, err := store.DataBackups(folder)
	if err != nil || len(data) == 0 {
		return "", err
	}
	inst, _, err := r.c.GetInstance(ctx, name)
	if err != nil {
		return "", err
	}
	if inc, done, ok := strings.Cut(inst.Config[KeyData], " "); ok && inc == r.req.IncidentID {
		r.report("data backup %s was applied earlier in this incident", done)
		return done, nil
	}
	var fails []string
	for _, b := range data {
		if err := store.Verify(b); err != nil {
			fails = append(fails, fmt.Sprintf("%s: %v", b.Name(), err))
			r.report("data backup %s unusable (%v); trying the next-newest", b.Name(), err)
			continue
		}
		r.report("applying data backup %s (%d bytes): database dump and files from the primary", b.Name(), b.Size)
		if err := r.loadData(ctx, name, b); err != nil {
			fails = append(fails, fmt.Sprintf("%s: %v", b.Name(), err))
			r.report("data backup %s did not load (%v); trying the next-newest", b.Name(), err)
			continue
		}
		if err := r.c.PatchInstance(ctx, name, lxd.InstancePut{Config: map[string]string{KeyData: r.req.IncidentID + " " + b.Name()}}, ""); err != nil {
			return "", fmt.Errorf("record the data backup applied to %s: %w", name, err)
		}
		return b.Name(), nil
	}
	return "", fmt.Errorf("no data backup of %s could be applied: %s: the container runs without its data; take a fresh backup with vcr-sync (POST /api/v1/services/%s/sync/backup) once the primary is back",
		folder, strings.Join(fails, "; "), folder)
}

// loadData pushes b into the instance and runs applyDataScript.
func (r *restorer) loadData(ctx context.Context, name string, b backupstore.Backup) error {
	f, err := os.Open(b.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := r.c.PushFile(ctx, name, dataInside, f, 0o600); err != nil {
		return err
	}
	res, err := r.c.Exec(ctx, name, []string{"sh", "-c", applyDataScript})
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("loading it exited %d: %s", res.ExitCode, lastLine(res.Stderr))
	}
	return nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

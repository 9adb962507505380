package ownership

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/vcrcovery/vcrcovery/receiver/api"
	"github.com/vcrcovery/vcrcovery/receiver/journal"
)

// stubCluster answers CommitClaims with err and nothing else.
type stubCluster struct {
	journal.Cluster
	err error
}

func (s stubCluster) CommitClaims(context.Context, journal.Batch, []journal.Claim) error {
	return s.err
}

// TestEtcdVerdicts: the shared journal's answers become the two verdicts
// the pipeline and the API act on, keeping the cause's words.
func TestEtcdVerdicts(t *testing.T) {
	conflict := &journal.ConflictError{Service: "web", Holder: "i-2"}
	timeout := context.DeadlineExceeded
	cases := []struct {
		name string
		err  error
		want error // the verdict, nil for none
	}{
		{"written", nil, nil},
		{"fenced", journal.ErrFenced, ErrNotOwner},
		{"no quorum", timeout, ErrUnavailable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := NewEtcd(stubCluster{err: tc.err}, nil, nil).Commit(context.Background(), journal.Batch{}, nil)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Commit = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tc.want) || !errors.Is(err, tc.err) || err.Error() != tc.err.Error() {
				t.Fatalf("Commit = %q; want %v carrying %q", err, tc.want, tc.err)
			}
		})
	}
	err := NewEtcd(stubCluster{err: conflict}, nil, nil).Commit(context.Background(), journal.Batch{}, nil)
	if err != conflict || errors.Is(err, ErrNotOwner) || errors.Is(err, ErrUnavailable) {
		t.Fatalf("a claim conflict must stay as it is: %v", err)
	}
	tooLarge := fmt.Errorf("write journal to etcd: %w", journal.ErrTooLarge)
	err = NewEtcd(stubCluster{err: tooLarge}, nil, nil).Commit(context.Background(), journal.Batch{}, nil)
	if err != tooLarge || errors.Is(err, ErrUnavailable) {
		t.Fatalf("a write over etcd's limits must stay as it is, not become unavailable (a retry fails the same way): %v", err)
	}
	if err := NewEtcd(stubCluster{}, nil, nil).CommitUnheld(context.Background(), api.Incident{ID: "i-1"}); !errors.Is(err, ErrNotOwner) {
		t.Fatalf("CommitUnheld = %v, want ErrNotOwner", err)
	}
}

// memJournal records what Local writes.
type memJournal struct {
	journal.Journal
	batches []journal.Batch
}

func (m *memJournal) Commit(_ context.Context, b journal.Batch) error {
	m.batches = append(m.batches, b)
	return nil
}

// TestLocalGrantsEverything: one replica owns every incident, claims need
// no check, nothing is orphaned and the session never ends.
func TestLocalGrantsEverything(t *testing.T) {
	j := &memJournal{}
	own := New(j, nil, nil)
	ctx := context.Background()
	claim := []journal.Claim{{Service: "web", IncidentID: "i-1", Open: true}}
	if err := own.Commit(ctx, journal.Batch{Incidents: []api.Incident{{ID: "i-1"}}}, claim); err != nil {
		t.Fatal(err)
	}
	if err := own.CommitUnheld(ctx, api.Incident{ID: "i-0"}); err != nil {
		t.Fatal(err)
	}
	if len(j.batches) != 2 {
		t.Fatalf("%d writes, want 2", len(j.batches))
	}
	orphans, err := own.Orphans(ctx)
	if _, adopted, _ := own.Adopt(ctx, "i-1"); err != nil || len(orphans) != 0 || adopted {
		t.Fatalf("orphans %v (%v), adopted %v; want none", orphans, err, adopted)
	}
	if own.Replica() != "" || !own.OwnsAtStart(api.Incident{}) || own.SessionLost() != nil || own.Changes() != nil {
		t.Fatal("a local journal's replica must own everything, unnamed, forever")
	}
}

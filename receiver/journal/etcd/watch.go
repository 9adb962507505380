package etcd

import (
	"context"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/vcrcovery/vcrcovery/receiver/journal"
)

var _ journal.SlotWatcher = (*Journal)(nil)

// watchRetry is the pause before a broken watch starts again.
const watchRetry = 500 * time.Millisecond

// WatchSlots implements journal.SlotWatcher: it reads every open/ and
// closed/ key in one transaction, reports each service's slot, then watches
// both prefixes from the next revision and reports each change as the
// service's whole slot.
func (j *Journal) WatchSlots(ctx context.Context, fn func(journal.Slot)) {
	for ctx.Err() == nil {
		rev, slots, err := j.readSlots(ctx)
		if err == nil {
			for _, s := range slots {
				fn(*s)
			}
			j.watchSlotsFrom(ctx, rev+1, slots, fn)
		} else {
			j.log.Debug("read the services' slots", "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(watchRetry):
		}
	}
}

// readSlots reads every service's slot and the revision it is current at.
func (j *Journal) readSlots(ctx context.Context) (int64, map[string]*journal.Slot, error) {
	tctx, cancel := j.reqCtx(ctx)
	defer cancel()
	resp, err := j.cli.Txn(tctx).Then(
		clientv3.OpGet(j.key("open/"), clientv3.WithPrefix()),
		clientv3.OpGet(j.key("closed/"), clientv3.WithPrefix())).Commit()
	if err != nil {
		return 0, nil, j.classify("read the services' slots from etcd", err, txnSize{ops: 2})
	}
	slots := map[string]*journal.Slot{}
	for i, prefix := range []string{j.key("open/"), j.key("closed/")} {
		for _, kv := range resp.Responses[i].GetResponseRange().Kvs {
			s := slotOf(slots, strings.TrimPrefix(string(kv.Key), prefix))
			if i == 0 {
				s.Holder = string(kv.Value)
			} else {
				s.ClosedID, s.ClosedRev = string(kv.Value), kv.ModRevision
			}
		}
	}
	return resp.Header.Revision, slots, nil
}

func slotOf(slots map[string]*journal.Slot, service string) *journal.Slot {
	s := slots[service]
	if s == nil {
		s = &journal.Slot{Service: service}
		slots[service] = s
	}
	return s
}

// watchSlotsFrom watches open/ and closed/ from rev and reports each
// changed slot, until either watch breaks or ctx ends.
func (j *Journal) watchSlotsFrom(ctx context.Context, rev int64, slots map[string]*journal.Slot, fn func(journal.Slot)) {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	var mu sync.Mutex // one fn call at a time, slots changed under it
	var wg sync.WaitGroup
	for _, prefix := range []string{j.key("open/"), j.key("closed/")} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer cancel() // one broken watch restarts both
			for wr := range j.cli.Watch(wctx, prefix, clientv3.WithPrefix(), clientv3.WithRev(rev)) {
				if wr.Err() != nil {
					j.log.Debug("slot watch ended", "err", wr.Err())
					return
				}
				mu.Lock()
				for _, ev := range wr.Events {
					s := slotOf(slots, strings.TrimPrefix(string(ev.Kv.Key), prefix))
					put := ev.Type == clientv3.EventTypePut
					switch {
					case prefix == j.key("open/") && put:
						s.Holder = string(ev.Kv.Value)
					case prefix == j.key("open/"):
						s.Holder = ""
					case put:
						s.ClosedID, s.ClosedRev = string(ev.Kv.Value), ev.Kv.ModRevision
					}
					fn(*s)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

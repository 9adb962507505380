package pipeline

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestLimiterBoundsAndOrders: at most limit holders at once; the waiters
// get their slot most important first, ties in the same order every time
// whatever order they arrived in.
func TestLimiterBoundsAndOrders(t *testing.T) {
	ctx := context.Background()
	order := func(arrival []string) []string {
		l := NewLimiter()
		hold, _, err := l.Acquire(ctx, "standby", 1, RankOf(0, "first"))
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var got []string
		var wg sync.WaitGroup
		for _, name := range arrival {
			prio := 0
			if name == "vip" {
				prio = 10
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				release, waited, err := l.Acquire(ctx, "standby", 1, RankOf(prio, name))
				if err != nil || !waited {
					t.Errorf("%s: waited %v, %v", name, waited, err)
					return
				}
				mu.Lock()
				got = append(got, name)
				mu.Unlock()
				release()
			}()
			// Let each arrive before the next, so arrival order is known.
			for deadline := time.Now().Add(5 * time.Second); ; {
				if _, waiting := l.InUse("standby"); waiting == len(got)+slices.Index(arrival, name)+1 || time.Now().After(deadline) {
					break
				}
				time.Sleep(time.Millisecond)
			}
		}
		hold()
		wg.Wait()
		return got
	}
	var names []string
	for i := range 8 {
		names = append(names, fmt.Sprintf("svc%d", i))
	}
	a := order(append(slices.Clone(names), "vip"))
	slices.Reverse(names)
	b := order(append([]string{"vip"}, names...))
	if a[0] != "vip" || b[0] != "vip" {
		t.Fatalf("the priority service did not go first: %v, %v", a, b)
	}
	if !slices.Equal(a, b) {
		t.Fatalf("ties went in arrival order, not a stable one: %v vs %v", a, b)
	}
	if slices.IsSorted(a[1:]) {
		t.Logf("note: the hash order happens to match the names' order: %v", a)
	}
}

// TestLimiterConcurrencyAndCancel: never more than limit at once, other
// targets are independent, and a waiter whose context ends leaves the queue.
func TestLimiterConcurrencyAndCancel(t *testing.T) {
	l := NewLimiter()
	ctx := context.Background()
	var mu sync.Mutex
	busy, peak := 0, 0
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			release, _, err := l.Acquire(ctx, "standby", 3, RankOf(i%3, fmt.Sprint(i)))
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			busy++
			peak = max(peak, busy)
			mu.Unlock()
			time.Sleep(time.Millisecond)
			mu.Lock()
			busy--
			mu.Unlock()
			release()
			release() // twice is harmless
		}()
	}
	other, waited, err := l.Acquire(ctx, "bigger", 1, RankOf(0, "x"))
	if err != nil || waited {
		t.Fatalf("another target waited for this one's slots: %v %v", waited, err)
	}
	other()
	wg.Wait()
	if peak > 3 || peak == 0 {
		t.Fatalf("peak %d holders, want 1 to 3", peak)
	}
	hold, _, _ := l.Acquire(ctx, "standby", 1, RankOf(0, "a"))
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, _, err := l.Acquire(cctx, "standby", 1, RankOf(0, "b"))
		done <- err
	}()
	for _, waiting := l.InUse("standby"); waiting == 0; _, waiting = l.InUse("standby") {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err == nil {
		t.Fatal("a cancelled waiter got a slot")
	}
	if b, w := l.InUse("standby"); b != 1 || w != 0 {
		t.Fatalf("after the cancel: %d busy, %d waiting; want 1 and 0", b, w)
	}
	hold()
	if b, _ := l.InUse("standby"); b != 0 {
		t.Fatalf("%d slots still busy", b)
	}
}

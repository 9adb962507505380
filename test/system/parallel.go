package system

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// parallel runs each fn in its own goroutine and waits for all. A fn that
// fails (Fatalf) ends only its goroutine; once all are done, the first
// failure fails t from the caller's goroutine, where Fatalf may be called.
func parallel(t testenv.TB, fns ...func(testenv.TB)) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]string, len(fns))
	for i, fn := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(&goroutineTB{TB: t, failed: &errs[i]})
		}()
	}
	wg.Wait()
	for _, e := range errs {
		if e != "" {
			t.Fatalf("%s", e)
		}
	}
}

// goroutineTB is a TB whose Fatalf records the failure and ends the calling
// goroutine only.
type goroutineTB struct {
	testenv.TB
	failed *string
}

func (g *goroutineTB) Fatalf(format string, args ...any) {
	*g.failed = fmt.Sprintf(format, args...)
	g.TB.Logf("%s", *g.failed)
	runtime.Goexit()
}

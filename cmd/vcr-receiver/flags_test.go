package main

import (
	"strings"
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/receiver/capacity"
)

func TestCapacityMaxAgeFlag(t *testing.T) {
	f, err := parseFlags(nil)
	if err != nil || f.capacityMaxAge != capacity.DefaultMaxAge {
		t.Errorf("default: %s, %v; want %s", f.capacityMaxAge, err, capacity.DefaultMaxAge)
	}
	if f, err := parseFlags([]string{"--capacity.max-age", "1s"}); err != nil || f.capacityMaxAge != time.Second {
		t.Errorf("--capacity.max-age 1s: %s, %v", f.capacityMaxAge, err)
	}
	for _, bad := range []string{"0s", "-5s"} {
		if _, err := parseFlags([]string{"--capacity.max-age", bad}); err == nil || !strings.Contains(err.Error(), "positive duration") {
			t.Errorf("--capacity.max-age %s: %v, want an error asking for a positive duration", bad, err)
		}
	}
}

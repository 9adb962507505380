package humanize

import (
	"testing"
	"time"
)

func TestDuration(t *testing.T) {
	cases := map[time.Duration]string{
		-time.Second:                          "0s",
		0:                                     "0s",
		850 * time.Microsecond:                "850µs",
		12 * time.Millisecond:                 "12ms",
		1240 * time.Millisecond:               "1.24s",
		65 * time.Second:                      "1m05s",
		2*time.Hour + 3*time.Minute:           "2h03m",
		50*time.Hour + 30*time.Minute:         "50h30m",
		59*time.Second + 999*time.Millisecond: "60.00s",
	}
	for d, want := range cases {
		if got := Duration(d); got != want {
			t.Errorf("Duration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestBytes(t *testing.T) {
	cases := map[int64]string{
		0:               "0 B",
		1023:            "1023 B",
		1536:            "1.5 KiB",
		50 << 20:        "50.0 MiB",
		(21 << 30) / 10: "2.1 GiB",
	}
	for n, want := range cases {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestResources(t *testing.T) {
	for _, tc := range []struct {
		vcpus  float64
		memory int64
		want   string
	}{
		{2, 512 << 20, "2 vCPUs and 512.0 MiB"},
		{0.5, 0, "0.5 vCPUs"},
		{0, 1 << 30, "1.0 GiB"},
		{0, 0, ""},
	} {
		if got := Resources(tc.vcpus, tc.memory); got != tc.want {
			t.Errorf("Resources(%v, %d) = %q, want %q", tc.vcpus, tc.memory, got, tc.want)
		}
	}
}

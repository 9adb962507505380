package logging

import (
	"bytes"
	"strings"
	"testing"
)

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		level, format, wantErr, wantOut string
	}{
		{"info", "logfmt", "", "level=INFO msg=hello"},
		{"debug", "json", "", `"msg":"hello"`},
		{"warn", "", "", ""}, // info is below warn: nothing written
		{"loud", "logfmt", "--log.level", ""},
		{"info", "xml", "--log.format", ""},
	} {
		var buf bytes.Buffer
		log, err := New(&buf, tc.level, tc.format)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("New(%q, %q) error %v, want one naming %s", tc.level, tc.format, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("New(%q, %q): %v", tc.level, tc.format, err)
		}
		log.Info("hello")
		if got := buf.String(); !strings.Contains(got, tc.wantOut) || (tc.wantOut == "" && got != "") {
			t.Errorf("New(%q, %q) wrote %q, want %q", tc.level, tc.format, got, tc.wantOut)
		}
	}
}

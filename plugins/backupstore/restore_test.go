package backupstore

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

func TestRestoreNewestFallsBack(t *testing.T) {
	s, now := testStore(t)
	ctx := context.Background()
	var bs []Backup
	for _, data := range []string{"oldest", "middle", "newest"} {
		b, err := s.Create(ctx, "web", exportString(data))
		if err != nil {
			t.Fatal(err)
		}
		bs = append(bs, b)
		*now = now.Add(time.Minute)
	}

	cases := []struct {
		name     string
		damage   func()
		failData string // restore fails for this content
		want     string // content restored; "" means an error
		notes    []string
	}{
		{name: "newest good", want: "newest"},
		{
			name:   "newest corrupt",
			damage: func() { os.WriteFile(bs[2].Path, []byte("newesT"), 0o640) },
			want:   "middle",
			notes:  []string{"unusable", "trying the next-newest, " + bs[1].Name(), "restored " + bs[1].Name()},
		},
		{
			name:     "newest corrupt, middle rejected by the importer",
			damage:   func() { os.WriteFile(bs[2].Path, []byte("newesT"), 0o640) },
			failData: "middle",
			want:     "oldest",
			notes:    []string{"backup corrupt", "not an LXD backup", "3rd newest"},
		},
		{
			name: "all bad",
			damage: func() {
				for _, b := range bs {
					os.Remove(b.Path + ".sha256")
				}
			},
			notes: []string{"no older backup left"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Fresh copies each time.
			for i, data := range []string{"oldest", "middle", "newest"} {
				os.WriteFile(bs[i].Path, []byte(data), 0o640)
				if _, err := os.Stat(bs[i].Path + ".sha256"); err != nil {
					t.Skip("sidecars removed by an earlier case")
				}
			}
			if tc.damage != nil {
				tc.damage()
			}
			var notes []string
			var got string
			_, err := s.RestoreNewest(ctx, "web", func(_ context.Context, b Backup, f *os.File) error {
				data, _ := io.ReadAll(f)
				if string(data) == tc.failData {
					return errors.New("not an LXD backup")
				}
				got = string(data)
				return nil
			}, func(m string) { notes = append(notes, m) })
			if tc.want == "" {
				if err == nil || !strings.Contains(err.Error(), "all 3 backups failed") {
					t.Fatalf("err = %v", err)
				}
			} else if err != nil || got != tc.want {
				t.Fatalf("restored %q, err %v; want %q", got, err, tc.want)
			}
			joined := strings.Join(notes, "\n")
			for _, n := range tc.notes {
				if !strings.Contains(joined, n) {
					t.Errorf("progress lacks %q:\n%s", n, joined)
				}
			}
		})
	}
}

func TestRestoreNewestNoBackup(t *testing.T) {
	s, _ := testStore(t)
	_, err := s.RestoreNewest(context.Background(), "web", func(context.Context, Backup, *os.File) error { return nil }, nil)
	if !errors.Is(err, ErrNoBackup) {
		t.Fatalf("err = %v", err)
	}
}

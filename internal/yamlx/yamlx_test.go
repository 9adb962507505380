package yamlx

import (
	"errors"
	"strings"
	"testing"
)

type conf struct {
	Name  string `yaml:"name"`
	Count int    `yaml:"count"`
}

func TestDecodeStrict(t *testing.T) {
	var c conf
	if err := DecodeStrict([]byte("name: a\ncount: 2\n"), &c); err != nil || c != (conf{"a", 2}) {
		t.Fatalf("got %+v, %v", c, err)
	}
	cases := []struct {
		in      string
		is      error
		contain string
	}{
		{in: "", is: ErrEmpty},
		{in: "# only a comment\n", is: ErrEmpty},
		{in: "name: a\n---\nname: b\n", is: ErrMultipleDocuments},
		{in: "name: a\nconut: 2\n", contain: "field conut not found"},
		{in: "count: many\n", contain: "cannot unmarshal"},
	}
	for _, tc := range cases {
		err := DecodeStrict([]byte(tc.in), &conf{})
		switch {
		case tc.is != nil && !errors.Is(err, tc.is):
			t.Errorf("%q: err = %v, want %v", tc.in, err, tc.is)
		case tc.contain != "" && (err == nil || !strings.Contains(err.Error(), tc.contain)):
			t.Errorf("%q: err = %v, want it to mention %q", tc.in, err, tc.contain)
		}
	}
}

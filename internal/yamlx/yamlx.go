// Package yamlx decodes configuration YAML strictly, so that a misspelt key
// or a stray second document fails at load time instead of being ignored.
package yamlx

import (
	"bytes"
	"errors"
	"io"

	"gopkg.in/yaml.v3"
)

// ErrEmpty is returned by DecodeStrict when the input holds no YAML
// document; callers say what the file should contain.
var ErrEmpty = errors.New("no YAML document")

// ErrMultipleDocuments is returned by DecodeStrict when the input holds
// more than one YAML document.
var ErrMultipleDocuments = errors.New("more than one YAML document: keep one")

// DecodeStrict decodes the single YAML document in data into v, refusing
// keys v has no field for.
func DecodeStrict(data []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return ErrEmpty
		}
		return err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return ErrMultipleDocuments
	}
	return nil
}

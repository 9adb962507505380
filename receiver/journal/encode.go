package journal

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Encoded is a Batch marshalled to JSON, element for element, so a backend
// can encode outside its write path and only copy bytes inside it.
type Encoded struct {
	Alerts    [][]byte
	Events    [][]byte
	Incidents [][]byte // Incidents[i] encodes Batch.Incidents[i]
}

// Encode marshals every record of b; it refuses an incident without an ID.
func Encode(b Batch) (Encoded, error) {
	e := Encoded{
		Alerts:    make([][]byte, len(b.Alerts)),
		Events:    make([][]byte, len(b.Events)),
		Incidents: make([][]byte, len(b.Incidents)),
	}
	for i, a := range b.Alerts {
		v, err := json.Marshal(a)
		if err != nil {
			return e, fmt.Errorf("encode alert: %w", err)
		}
		e.Alerts[i] = v
	}
	for i, ev := range b.Events {
		v, err := json.Marshal(ev)
		if err != nil {
			return e, fmt.Errorf("encode event: %w", err)
		}
		e.Events[i] = v
	}
	for i, inc := range b.Incidents {
		if inc.ID == "" {
			return e, errors.New("journal incident without ID")
		}
		v, err := json.Marshal(inc)
		if err != nil {
			return e, fmt.Errorf("encode incident %s: %w", inc.ID, err)
		}
		e.Incidents[i] = v
	}
	return e, nil
}

package cold

import (
	"encoding/json"
	"testing"

	"github.com/vcrcovery/vcrcovery/plugins/sdk/sdktest"
)

func TestConformance(t *testing.T) {
	sdktest.Conformance(t, Strategy{}, sdktest.Options{ValidSettings: json.RawMessage(`{"remote":"standby","keep":3}`)})
}

package cold

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/vcrcovery/vcrcovery/plugins/sdk"
	"github.com/vcrcovery/vcrcovery/plugins/sdk/sdktest"
)

func TestConformance(t *testing.T) {
	sdktest.Conformance(t, func() sdk.Strategy { return Strategy{} }, sdktest.Fixture{Settings: json.RawMessage(`{"remote":"standby","keep":3}`)})
}

func TestStagingName(t *testing.T) {
	a, b := stagingName("web", "inc-1"), stagingName("web", "inc-2")
	if a == b || !strings.HasPrefix(a, "web-vcrimport-") || len(a) != len("web-vcrimport-")+8 {
		t.Errorf("staging names %q and %q", a, b)
	}
	if a != stagingName("web", "inc-1") {
		t.Error("the staging name of an incident changes between attempts")
	}
	long := stagingName(strings.Repeat("x", 63), "inc-1")
	if len(long) != 63 || !strings.HasSuffix(long, a[len("web"):]) {
		t.Errorf("a long instance name gives %q (%d characters); LXD allows 63", long, len(long))
	}
}

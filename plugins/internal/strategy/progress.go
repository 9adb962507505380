package strategy

import (
	"fmt"
	"time"

	"github.com/vcrcovery/vcrcovery/plugins/sdk"
)

// Report sends a formatted progress message if progress is set, so callers
// need not check for the nil ProgressFunc in-process callers may pass.
func Report(progress sdk.ProgressFunc, format string, args ...any) {
	if progress != nil {
		progress(sdk.Progress{Time: time.Now(), Message: fmt.Sprintf(format, args...)})
	}
}

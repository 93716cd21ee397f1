//go:build !linux

package fileshare

import (
	"os"
	"time"
)

func birthTimeAt(*os.File, string) (time.Time, bool) { return time.Time{}, false }

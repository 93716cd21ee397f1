//go:build !linux

package fileshare

import "time"

func birthTime(string) (time.Time, bool) { return time.Time{}, false }

//go:build !linux

package fileshare

import (
	"os"
	"time"
)

// setModTime sets the modification time of the file f was opened as. Outside Linux it goes
// by f's name (the temporary file's own, created by Upload in a folder it holds open).
func setModTime(f *os.File, mtime time.Time) error { return os.Chtimes(f.Name(), time.Time{}, mtime) }

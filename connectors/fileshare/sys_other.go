//go:build !unix

package fileshare

import (
	"io/fs"
	"os"
	"time"
)

type sysInfo struct {
	ino      uint64
	uid, gid uint32
}

func sysFacts(fs.FileInfo) (sysInfo, bool) { return sysInfo{}, false }

func keepOwner(*os.File, fs.FileInfo) error { return nil }

const openNonBlock = 0

// setModTime falls back to the path the descriptor was opened with.
func setModTime(f *os.File, mtime time.Time) error { return os.Chtimes(f.Name(), time.Time{}, mtime) }

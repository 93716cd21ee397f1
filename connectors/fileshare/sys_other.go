//go:build !unix

package fileshare

import (
	"io/fs"
	"os"
)

type sysInfo struct {
	ino      uint64
	uid, gid uint32
}

func sysFacts(fs.FileInfo) (sysInfo, bool) { return sysInfo{}, false }

func keepOwner(*os.File, fs.FileInfo) error { return nil }

const openNonBlock = 0

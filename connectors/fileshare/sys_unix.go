//go:build unix

package fileshare

import (
	"io/fs"
	"os"
	"syscall"
)

type sysInfo struct {
	ino      uint64
	uid, gid uint32
}

func sysFacts(info fs.FileInfo) (sysInfo, bool) {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return sysInfo{}, false
	}
	return sysInfo{ino: uint64(st.Ino), uid: st.Uid, gid: st.Gid}, true
}

// keepOwner gives the new version the original's owner and group; only root (or the owner,
// for a group it belongs to) may, so failure is not an error.
func keepOwner(f *os.File, info fs.FileInfo) error {
	s, ok := sysFacts(info)
	if !ok {
		return nil
	}
	if uid, gid := os.Geteuid(), os.Getegid(); uint32(uid) == s.uid && uint32(gid) == s.gid {
		return nil
	}
	return f.Chown(int(s.uid), int(s.gid))
}

// openNonBlock opens without waiting for a writer when the name turns out to be a FIFO.
const openNonBlock = syscall.O_NONBLOCK

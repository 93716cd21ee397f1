//go:build unix

package fileshare

import (
	"io/fs"
	"os"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
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

// setModTime sets the modification time of an open file by its descriptor, so no path (which
// could be swapped for a link) is involved.
func setModTime(f *os.File, mtime time.Time) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	ts := []unix.Timespec{{Sec: 0, Nsec: unix.UTIME_OMIT}, unix.NsecToTimespec(mtime.UnixNano())}
	var uerr error
	if err := rc.Control(func(fd uintptr) {
		// utimensat(fd, "", …, AT_EMPTY_PATH) acts on the descriptor itself; kernels that refuse
		// the flag get the descriptor's /proc magic link, which names the same open file.
		uerr = unix.UtimesNanoAt(int(fd), "", ts, unix.AT_EMPTY_PATH)
		if uerr != nil {
			uerr = unix.UtimesNanoAt(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(int(fd)), ts, 0)
		}
	}); err != nil {
		return err
	}
	return uerr
}

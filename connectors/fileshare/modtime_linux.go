package fileshare

import (
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

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

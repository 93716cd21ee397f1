package fileshare

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// birthTimeAt asks statx for the creation time of the entry name of the open folder dir,
// relative to the folder's descriptor and without following a final symbolic link, so the
// answer always comes from inside the share (a path string could be swapped for a link
// leading elsewhere). AT_STATX_DONT_SYNC keeps network mounts from making a round trip for
// it; file systems without birth times leave it out of the mask.
func birthTimeAt(dir *os.File, name string) (time.Time, bool) {
	rc, err := dir.SyscallConn()
	if err != nil {
		return time.Time{}, false
	}
	var st unix.Statx_t
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.Statx(int(fd), name, unix.AT_STATX_DONT_SYNC|unix.AT_SYMLINK_NOFOLLOW, unix.STATX_BTIME|unix.STATX_TYPE, &st)
	}); err != nil || serr != nil {
		return time.Time{}, false
	}
	if st.Mask&unix.STATX_BTIME == 0 || st.Btime.Sec == 0 || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return time.Time{}, false
	}
	return time.Unix(st.Btime.Sec, int64(st.Btime.Nsec)), true
}

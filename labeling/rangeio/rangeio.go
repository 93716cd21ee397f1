// Package rangeio provides a caching, coalescing io.ReaderAt that counts the bytes and round trips
// reaching the reader underneath (for connectors, one ReadAt is one HTTP Range request).
package rangeio

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
)

// Defaults chosen for ZIP: the end-of-central-directory record and a ZIP64 locator always sit in the
// last 64 KiB + 22 bytes, so one tail read almost always covers the whole central directory too.
const (
	DefaultTail     = 64<<10 + 22
	DefaultMinFetch = 32 << 10
	// DefaultMaxCache bounds the memory one Reader may hold.
	DefaultMaxCache = 16 << 20
)

// ErrCacheFull is returned when serving a read would exceed the cache budget.
var ErrCacheFull = errors.New("rangeio: read budget exceeded")

// Config tunes a Reader. Zero values take the defaults.
type Config struct {
	Tail     int64 // bytes fetched from the end on the first read; whole file when size <= 2*Tail
	MinFetch int64 // smallest fetch for a cache miss
	MaxCache int64 // most bytes fetched in total before reads fail with ErrCacheFull
}

type window struct {
	off  int64
	data []byte
}

// Reader serves reads from cached windows, fetching from the underlying reader only on a miss.
// It is not safe for concurrent use.
type Reader struct {
	r       io.ReaderAt
	size    int64
	cfg     Config
	windows []window // sorted by off, non-overlapping is not required
	bytes   int64
	trips   int
	primed  bool
}

// New wraps r, a reader of size bytes.
func New(r io.ReaderAt, size int64, cfg Config) *Reader {
	if cfg.Tail <= 0 {
		cfg.Tail = DefaultTail
	}
	if cfg.MinFetch <= 0 {
		cfg.MinFetch = DefaultMinFetch
	}
	if cfg.MaxCache <= 0 {
		cfg.MaxCache = DefaultMaxCache
	}
	return &Reader{r: r, size: size, cfg: cfg}
}

// Size is the size of the underlying file.
func (r *Reader) Size() int64 { return r.size }

// BytesRead is the number of bytes fetched from the underlying reader.
func (r *Reader) BytesRead() int64 { return r.bytes }

// RoundTrips is the number of ReadAt calls that reached the underlying reader.
func (r *Reader) RoundTrips() int { return r.trips }

// prime performs the first fetch: the tail of the file, or all of a small file.
func (r *Reader) prime() error {
	if r.primed {
		return nil
	}
	r.primed = true
	off := r.size - r.cfg.Tail
	if r.size <= 2*r.cfg.Tail {
		off = 0
	}
	if off < 0 {
		off = 0
	}
	return r.fetch(off, r.size-off)
}

func (r *Reader) fetch(off, n int64) error {
	if n <= 0 {
		return nil
	}
	if r.bytes+n > r.cfg.MaxCache {
		return fmt.Errorf("%w: %d bytes at %d after %d bytes", ErrCacheFull, n, off, r.bytes)
	}
	buf := alloc(n)
	r.trips++
	got, err := r.r.ReadAt(buf, off)
	r.bytes += int64(got)
	if got < len(buf) {
		free(buf)
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("rangeio: read %d bytes at %d: %w", n, off, err)
	}
	r.windows = append(r.windows, window{off: off, data: buf})
	sort.Slice(r.windows, func(i, j int) bool { return r.windows[i].off < r.windows[j].off })
	return nil
}

// poolBuf is the size of the pooled fetch buffers: every fetch of a typical label read fits
// (the tail, a whole file of up to two tails, a 32 KiB miss).
const poolBuf = 2 * DefaultTail

// bufs keeps fetch buffers of poolBuf bytes between Readers. Making a 64 KiB tail buffer per
// file, zeroed and collected, was a fifth of a local scan's CPU time (issue 21). A pooled
// buffer is always filled by the fetch before any byte of it is served, and only Release,
// after which the Reader is not used, puts it back.
var bufs sync.Pool

func alloc(n int64) []byte {
	if n > poolBuf {
		return make([]byte, n)
	}
	if b, ok := bufs.Get().(*[]byte); ok {
		return (*b)[:n]
	}
	return make([]byte, n, poolBuf)
}

func free(b []byte) {
	if cap(b) == poolBuf {
		b = b[:poolBuf]
		bufs.Put(&b)
	}
}

// Release hands the Reader's buffers back for reuse by other Readers. Call it when done: the
// Reader must not be used afterwards. Reads copy out of the buffers, so nothing a caller
// holds refers to them.
func (r *Reader) Release() {
	for _, w := range r.windows {
		free(w.data)
	}
	r.windows = nil
}

// cached copies [off, off+len(p)) from the windows if they cover it entirely.
func (r *Reader) cached(p []byte, off int64) bool {
	end := off + int64(len(p))
	pos := off
	for pos < end {
		found := false
		for _, w := range r.windows {
			wend := w.off + int64(len(w.data))
			if w.off <= pos && pos < wend {
				n := copy(p[pos-off:], w.data[pos-w.off:])
				pos += int64(n)
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// ReadAt implements io.ReaderAt. Reads past the end return io.EOF like os.File.
func (r *Reader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("rangeio: negative offset %d", off)
	}
	if err := r.prime(); err != nil {
		return 0, err
	}
	if off >= r.size {
		return 0, io.EOF
	}
	want := p
	var eof error
	if rem := r.size - off; int64(len(p)) > rem {
		want = p[:rem]
		eof = io.EOF
	}
	if !r.cached(want, off) {
		n := max(int64(len(want)), r.cfg.MinFetch)
		n = min(n, r.size-off)
		if err := r.fetch(off, n); err != nil {
			return 0, err
		}
		if !r.cached(want, off) {
			return 0, fmt.Errorf("rangeio: cache miss after fetch at %d", off)
		}
	}
	return len(want), eof
}

// Range is a byte range [Off, Off+Len).
type Range struct{ Off, Len int64 }

// Prefetch fetches every range not already cached, merging ranges closer than gap bytes into one
// underlying read, so that a handful of scattered small parts cost one round trip each cluster.
func (r *Reader) Prefetch(ranges []Range, gap int64) error {
	if err := r.prime(); err != nil {
		return err
	}
	var miss []Range
	for _, g := range ranges {
		g.Off = max(g.Off, 0)
		if g.Off >= r.size || g.Len <= 0 {
			continue
		}
		g.Len = min(g.Len, r.size-g.Off)
		if r.covered(g) {
			continue
		}
		miss = append(miss, g)
	}
	sort.Slice(miss, func(i, j int) bool { return miss[i].Off < miss[j].Off })
	for i := 0; i < len(miss); {
		start, end := miss[i].Off, miss[i].Off+miss[i].Len
		j := i + 1
		for ; j < len(miss) && miss[j].Off <= end+gap; j++ {
			end = max(end, miss[j].Off+miss[j].Len)
		}
		if err := r.fetch(start, end-start); err != nil {
			return err
		}
		i = j
	}
	return nil
}

func (r *Reader) covered(g Range) bool {
	pos, end := g.Off, g.Off+g.Len
	for pos < end {
		found := false
		for _, w := range r.windows {
			if w.off <= pos && pos < w.off+int64(len(w.data)) {
				pos = w.off + int64(len(w.data))
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// ReadFull reads exactly n bytes at off from r; a short read is an error wrapping
// io.ErrUnexpectedEOF (or the reader's own error).
func ReadFull(r io.ReaderAt, off int64, n int) ([]byte, error) {
	buf := make([]byte, n)
	got, err := r.ReadAt(buf, off)
	if got == n {
		return buf, nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return nil, fmt.Errorf("read %d bytes at %d: %w", n, off, err)
}

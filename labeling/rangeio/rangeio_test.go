package rangeio

import (
	"bytes"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
)

func setup(t *testing.T, size int) ([]byte, *Reader) {
	t.Helper()
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i * 7)
	}
	return data, New(bytes.NewReader(data), int64(size), Config{})
}

func TestFirstReadFetchesTheTail(t *testing.T) {
	t.Parallel()
	data, r := setup(t, 1<<20)
	buf := make([]byte, 100)
	n, err := r.ReadAt(buf, int64(len(data)-100))
	require.NoError(t, err)
	require.Equal(t, 100, n)
	require.Equal(t, data[len(data)-100:], buf)
	require.Equal(t, 1, r.RoundTrips())
	require.Equal(t, int64(DefaultTail), r.BytesRead())
	// Anything inside the tail is served from the cache.
	_, err = r.ReadAt(buf, int64(len(data)-DefaultTail))
	require.NoError(t, err)
	require.Equal(t, 1, r.RoundTrips())
}

func TestSmallFileIsFetchedWhole(t *testing.T) {
	t.Parallel()
	data, r := setup(t, 100<<10)
	buf := make([]byte, 10)
	_, err := r.ReadAt(buf, 0)
	require.NoError(t, err)
	require.Equal(t, 1, r.RoundTrips())
	require.Equal(t, int64(len(data)), r.BytesRead())
}

func TestPrefetchCoalescesNearbyRanges(t *testing.T) {
	t.Parallel()
	data, r := setup(t, 4<<20)
	require.NoError(t, r.Prefetch([]Range{{Off: 0, Len: 100}, {Off: 1000, Len: 50}, {Off: 2 << 20, Len: 10}, {Off: int64(len(data)) - 10, Len: 10}}, 4096))
	// One tail fetch, one for the two nearby ranges, one for the far one; the last was cached.
	require.Equal(t, 3, r.RoundTrips())
	require.Equal(t, int64(DefaultTail+1050+10), r.BytesRead())
	buf := make([]byte, 50)
	_, err := r.ReadAt(buf, 1000)
	require.NoError(t, err)
	require.Equal(t, data[1000:1050], buf)
	require.Equal(t, 3, r.RoundTrips())
}

func TestMissFetchesAtLeastMinFetch(t *testing.T) {
	t.Parallel()
	data, r := setup(t, 4<<20)
	buf := make([]byte, 10)
	_, err := r.ReadAt(buf, 1<<20)
	require.NoError(t, err)
	_, err = r.ReadAt(buf, 1<<20+DefaultMinFetch-10)
	require.NoError(t, err)
	require.Equal(t, data[1<<20+DefaultMinFetch-10:1<<20+DefaultMinFetch], buf)
	require.Equal(t, 2, r.RoundTrips())
}

func TestEOFAndBudget(t *testing.T) {
	t.Parallel()
	data, r := setup(t, 1000)
	buf := make([]byte, 100)
	n, err := r.ReadAt(buf, 950)
	require.ErrorIs(t, err, io.EOF)
	require.Equal(t, 50, n)
	require.Equal(t, data[950:], buf[:50])
	_, err = r.ReadAt(buf, 5000)
	require.ErrorIs(t, err, io.EOF)

	big := New(bytes.NewReader(make([]byte, 1<<20)), 1<<20, Config{MaxCache: 100 << 10})
	_, err = big.ReadAt(buf, 0)
	require.NoError(t, err) // tail (64 KiB) then 32 KiB at 0 fit
	_, err = big.ReadAt(make([]byte, 64<<10), 200<<10)
	require.ErrorIs(t, err, ErrCacheFull)
}

func TestShortUnderlyingReader(t *testing.T) {
	t.Parallel()
	// The declared size is larger than the data: the reader reports the short read.
	r := New(bytes.NewReader(make([]byte, 10)), 1000, Config{})
	_, err := r.ReadAt(make([]byte, 10), 0)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
}

// TestReleasedBuffersServeOnlyNewBytes: buffers handed back by Release are reused by later
// Readers, which must serve their own file's bytes, never the previous file's, also after a
// short read that failed into a pooled buffer.
func TestReleasedBuffersServeOnlyNewBytes(t *testing.T) {
	t.Parallel()
	for round := range 50 {
		size := 1000 + round*3001 // whole-file and tail fetches, all within a pooled buffer
		a := bytes.Repeat([]byte{'a'}, size)
		ra := New(bytes.NewReader(a), int64(size), Config{})
		p := make([]byte, 10)
		_, err := ra.ReadAt(p, int64(size-10))
		require.NoError(t, err)
		ra.Release()

		// A reader whose underlying file is shorter than it claims: the fetch fails and
		// nothing from the buffer is served.
		short := New(bytes.NewReader(bytes.Repeat([]byte{'s'}, size/2)), int64(size), Config{})
		_, err = short.ReadAt(p, int64(size-10))
		require.Error(t, err)
		short.Release()

		b := make([]byte, size)
		for i := range b {
			b[i] = byte('0' + i%10)
		}
		rb := New(bytes.NewReader(b), int64(size), Config{})
		got := make([]byte, size)
		n, err := rb.ReadAt(got, 0)
		require.NoError(t, err)
		require.Equal(t, size, n)
		require.Equal(t, b, got, "round %d", round)
		rb.Release()
	}
}

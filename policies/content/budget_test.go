package content

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// slideXML is a slide whose text is short and whose bulk is whitespace: n bytes inflated
// from a few kilobytes.
func slideXML(n int, text string) []byte {
	head := []byte(`<p:sld xmlns:a="a" xmlns:p="p"><a:p><a:r><a:t>` + text + `</a:t></a:r></a:p>`)
	tail := []byte(`</p:sld>`)
	b := make([]byte, 0, n)
	b = append(b, head...)
	b = append(b, bytes.Repeat([]byte(" "), max(0, n-len(head)-len(tail)))...)
	return append(b, tail...)
}

// craftZip writes a ZIP by hand: each stored part once (deflated), then a central directory
// that may name a part many times. entries maps a central-directory name to the index of the
// part whose local header it points at.
func craftZip(t testing.TB, parts [][]byte, partNames []string, entries []struct {
	name string
	part int
}) []byte {
	t.Helper()
	var out bytes.Buffer
	type stored struct {
		off        uint32
		crc        uint32
		csize, usz uint32
	}
	var st []stored
	le := binary.LittleEndian
	for i, p := range parts {
		var c bytes.Buffer
		fw, err := flate.NewWriter(&c, flate.BestSpeed)
		require.NoError(t, err)
		_, err = fw.Write(p)
		require.NoError(t, err)
		require.NoError(t, fw.Close())
		s := stored{off: uint32(out.Len()), crc: crc32.ChecksumIEEE(p), csize: uint32(c.Len()), usz: uint32(len(p))}
		st = append(st, s)
		name := partNames[i]
		h := make([]byte, 30)
		le.PutUint32(h[0:], 0x04034b50)
		le.PutUint16(h[4:], 20)
		le.PutUint16(h[8:], 8) // deflate
		le.PutUint32(h[14:], s.crc)
		le.PutUint32(h[18:], s.csize)
		le.PutUint32(h[22:], s.usz)
		le.PutUint16(h[26:], uint16(len(name)))
		out.Write(h)
		out.WriteString(name)
		out.Write(c.Bytes())
	}
	cdStart := out.Len()
	for _, e := range entries {
		s := st[e.part]
		h := make([]byte, 46)
		le.PutUint32(h[0:], 0x02014b50)
		le.PutUint16(h[4:], 20)
		le.PutUint16(h[6:], 20)
		le.PutUint16(h[10:], 8)
		le.PutUint32(h[16:], s.crc)
		le.PutUint32(h[20:], s.csize)
		le.PutUint32(h[24:], s.usz)
		le.PutUint16(h[28:], uint16(len(e.name)))
		le.PutUint32(h[42:], s.off)
		out.Write(h)
		out.WriteString(e.name)
	}
	cdLen := out.Len() - cdStart
	end := make([]byte, 22)
	le.PutUint32(end[0:], 0x06054b50)
	le.PutUint16(end[8:], uint16(len(entries)))
	le.PutUint16(end[10:], uint16(len(entries)))
	le.PutUint32(end[12:], uint32(cdLen))
	le.PutUint32(end[16:], uint32(cdStart))
	out.Write(end)
	return out.Bytes()
}

type entry = struct {
	name string
	part int
}

// A pptx whose central directory names one large slide thousands of times (the issue's
// 0.78 MB file of 10,000 entries pointing at one 64 MiB slide, scaled down) is refused at
// once, before anything is inflated twice.
func TestRepeatedZipEntriesRefused(t *testing.T) {
	t.Parallel()
	slide := slideXML(1<<20, "4111 1111 1111 1111")
	var es []entry
	for i := 1; i <= 3000; i++ {
		es = append(es, entry{fmt.Sprintf("ppt/slides/slide%d.xml", i), 0})
	}
	data := craftZip(t, [][]byte{slide}, []string{"ppt/slides/slide1.xml"}, es)
	require.Less(t, len(data), 1<<20)

	start := time.Now()
	_, err := Count(context.Background(), bytes.NewReader(data), int64(len(data)), "deck.pptx", []*Matcher{mustPreset(t, "creditCard")}, nil, Limits{})
	require.ErrorIs(t, err, ErrBudgetExceeded)
	require.ErrorContains(t, err, "content inspection budget exceeded")
	require.ErrorContains(t, err, "overlap")
	require.Less(t, time.Since(start), 5*time.Second)

	// The same name listed twice is refused too.
	data = craftZip(t, [][]byte{slide, slide}, []string{"ppt/slides/slide1.xml", "ppt/slides/slide1.xml"},
		[]entry{{"ppt/slides/slide1.xml", 0}, {"ppt/slides/slide1.xml", 1}})
	_, err = Count(context.Background(), bytes.NewReader(data), int64(len(data)), "deck.pptx", []*Matcher{mustPreset(t, "creditCard")}, nil, Limits{})
	require.ErrorIs(t, err, ErrBudgetExceeded)
	require.ErrorContains(t, err, "listed twice")
}

// Distinct parts draw on one decompression budget and one clock per inspection; what was
// found before the budget ran out is still counted.
func TestInspectionBudget(t *testing.T) {
	t.Parallel()
	const parts, size = 6, 128 << 10
	var ps [][]byte
	var names []string
	var es []entry
	for i := range parts {
		ps = append(ps, slideXML(size, "4111 1111 1111 1111"))
		n := fmt.Sprintf("ppt/slides/slide%d.xml", i+1)
		names = append(names, n)
		es = append(es, entry{n, i})
	}
	data := craftZip(t, ps, names, es)
	ms := []*Matcher{mustPreset(t, "creditCard")}

	counts, err := Count(context.Background(), bytes.NewReader(data), int64(len(data)), "deck.pptx", ms, nil, Limits{MaxInflated: 5 * size / 2})
	require.ErrorIs(t, err, ErrBudgetExceeded)
	require.ErrorContains(t, err, "bytes decompressed")
	require.Equal(t, []int{3}, counts, "the slides read within the budget are counted")

	// Within a generous budget everything is read.
	counts, err = Count(context.Background(), bytes.NewReader(data), int64(len(data)), "deck.pptx", ms, nil, Limits{MaxInflated: 64 << 20})
	require.NoError(t, err)
	require.Equal(t, []int{parts}, counts)

	// The clock.
	_, err = Count(context.Background(), bytes.NewReader(data), int64(len(data)), "deck.pptx", ms, nil, Limits{MaxTime: time.Millisecond})
	require.ErrorIs(t, err, ErrBudgetExceeded)
	require.ErrorContains(t, err, "took longer than 1ms")

	// The caller's own cancellation is not a budget matter.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = Count(ctx, bytes.NewReader(data), int64(len(data)), "deck.pptx", ms, nil, Limits{})
	require.True(t, errors.Is(err, context.Canceled) && !errors.Is(err, ErrBudgetExceeded), "%v", err)
}

// PDF content streams share the same budget.
func TestInspectionBudgetPDF(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n")
	for i := range 8 {
		var c bytes.Buffer
		zw, err := flate.NewWriter(&c, flate.BestSpeed)
		require.NoError(t, err)
		fmt.Fprintf(zw, "BT (4111 1111 1111 1111) Tj ET\n")
		_, _ = zw.Write(bytes.Repeat([]byte(" "), 128<<10))
		require.NoError(t, zw.Close())
		// zlib framing around the raw deflate data.
		var z bytes.Buffer
		z.Write([]byte{0x78, 0x01})
		z.Write(c.Bytes())
		z.Write([]byte{0, 0, 0, 0})
		fmt.Fprintf(&b, "%d 0 obj\n<< /Length %d /Filter /FlateDecode >>\nstream\n", i+1, z.Len())
		b.Write(z.Bytes())
		b.WriteString("\nendstream\nendobj\n")
	}
	b.WriteString("%%EOF\n")
	data := b.Bytes()
	counts, err := Count(context.Background(), bytes.NewReader(data), int64(len(data)), "a.pdf", []*Matcher{mustPreset(t, "creditCard")}, nil, Limits{MaxInflated: 5 * (128 << 10) / 2})
	require.ErrorIs(t, err, ErrBudgetExceeded)
	require.Equal(t, []int{3}, counts)
}

func mustPreset(t testing.TB, p string) *Matcher {
	t.Helper()
	m, err := NewPreset(Preset(p))
	require.NoError(t, err)
	return m
}

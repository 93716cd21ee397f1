// Package ooxml reads single parts of an Office Open XML (ZIP) package with few, bounded reads, and
// rewrites a package replacing a few parts while copying every other entry's bytes untouched.
package ooxml

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
	"sync"

	"github.com/labelgate/labelgate/labeling/rangeio"
)

// inflaters keeps deflate readers for reuse: each holds a 32 KiB window and Huffman tables,
// and making one per entry read was a tenth of a scan's CPU time, most of it in the
// allocator and the collector. A pool holds no state a caller could see: Reset starts every
// use afresh.
var inflaters sync.Pool

// inflate decompresses comp, expected to inflate to exactly n bytes, into a slice of that
// size. It reads no further than n+1 bytes: a lying header costs one byte, not the limit, and
// returns fewer or more bytes than n as they are, for the caller's size check.
func inflate(comp []byte, n int) ([]byte, error) {
	src := bytes.NewReader(comp)
	fr, _ := inflaters.Get().(io.ReadCloser)
	if fr == nil {
		fr = flate.NewReader(src)
	} else if err := fr.(flate.Resetter).Reset(src, nil); err != nil {
		return nil, err
	}
	defer func() {
		_ = fr.Close()
		inflaters.Put(fr)
	}()
	out := make([]byte, n+1)
	got, err := io.ReadFull(fr, out)
	switch {
	case err == nil: // n+1 bytes: more than declared
		return out[:got], nil
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return out[:got], nil
	}
	return nil, err
}

// ErrMalformed marks a structurally broken archive; the root package maps it to labeling.ErrMalformed.
var ErrMalformed = errors.New("malformed zip")

// ErrNotFound is returned by ReadEntry for a missing entry.
var ErrNotFound = errors.New("zip entry not found")

const (
	sigEOCD       = 0x06054b50
	sigZip64EOCD  = 0x06064b50
	sigZip64Loc   = 0x07064b50
	sigCentral    = 0x02014b50
	sigLocal      = 0x04034b50
	eocdLen       = 22
	centralLen    = 46
	localLen      = 30
	maxEntries    = 1 << 17
	maxCentralDir = 32 << 20
	// localSlack covers the local-only extra fields (Office's 0xA220 growth hint is a few hundred
	// bytes) when prefetching a part before its local header has been seen.
	localSlack = 1024
)

// Entry is one central-directory record.
type Entry struct {
	Name             string
	Method           uint16
	Flags            uint16
	CRC32            uint32
	CompressedSize   uint64
	UncompressedSize uint64
	HeaderOffset     int64
	extraLen         int
}

// Archive is the parsed central directory of a ZIP file.
type Archive struct {
	r       io.ReaderAt
	size    int64
	cdStart int64
	Entries []Entry
	byName  map[string]int
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

func readFull(r io.ReaderAt, off int64, n int) ([]byte, error) {
	b, err := rangeio.ReadFull(r, off, n)
	if err != nil && !errors.Is(err, rangeio.ErrCacheFull) {
		err = fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return b, err
}

// Open parses the end-of-central-directory record (ZIP64 too) and the central directory.
func Open(r io.ReaderAt, size int64) (*Archive, error) {
	if size < eocdLen {
		return nil, malformed("file of %d bytes is too small for a zip", size)
	}
	// Most archives have no comment: try the last 22 bytes before scanning the whole tail.
	tailLen := int64(eocdLen)
	tail, err := readFull(r, size-tailLen, int(tailLen))
	if err != nil {
		return nil, err
	}
	if binary.LittleEndian.Uint32(tail) != sigEOCD || binary.LittleEndian.Uint16(tail[20:]) != 0 {
		tailLen = min(size, int64(rangeio.DefaultTail))
		if tail, err = readFull(r, size-tailLen, int(tailLen)); err != nil {
			return nil, err
		}
	}
	pos := -1
	for i := len(tail) - eocdLen; i >= 0; i-- {
		if binary.LittleEndian.Uint32(tail[i:]) == sigEOCD {
			// The comment length must reach exactly to the end for a genuine record.
			if i+eocdLen+int(binary.LittleEndian.Uint16(tail[i+20:])) <= len(tail) {
				pos = i
				break
			}
		}
	}
	if pos < 0 {
		return nil, malformed("no end-of-central-directory record")
	}
	eocdOff := size - tailLen + int64(pos)
	e := tail[pos:]
	count := uint64(binary.LittleEndian.Uint16(e[10:]))
	cdSize := uint64(binary.LittleEndian.Uint32(e[12:]))
	cdOff := uint64(binary.LittleEndian.Uint32(e[16:]))
	if count == 0xffff || cdSize == 0xffffffff || cdOff == 0xffffffff {
		if eocdOff < 20 {
			return nil, malformed("zip64 locator missing")
		}
		loc, err := readFull(r, eocdOff-20, 20)
		if err != nil {
			return nil, err
		}
		if binary.LittleEndian.Uint32(loc) != sigZip64Loc {
			return nil, malformed("zip64 locator missing")
		}
		z64off := binary.LittleEndian.Uint64(loc[8:])
		if z64off > uint64(size-56) {
			return nil, malformed("zip64 end record offset %d out of range", z64off)
		}
		z, err := readFull(r, int64(z64off), 56)
		if err != nil {
			return nil, err
		}
		if binary.LittleEndian.Uint32(z) != sigZip64EOCD {
			return nil, malformed("bad zip64 end record signature")
		}
		count = binary.LittleEndian.Uint64(z[32:])
		cdSize = binary.LittleEndian.Uint64(z[40:])
		cdOff = binary.LittleEndian.Uint64(z[48:])
		eocdOff = int64(z64off)
	}
	if cdOff > uint64(eocdOff) || cdSize > uint64(eocdOff)-cdOff {
		return nil, malformed("central directory [%d,+%d) outside the file", cdOff, cdSize)
	}
	if cdSize > maxCentralDir || count > maxEntries || count*centralLen > cdSize {
		return nil, malformed("central directory of %d entries in %d bytes is implausible", count, cdSize)
	}
	cd, err := readFull(r, int64(cdOff), int(cdSize))
	if err != nil {
		return nil, err
	}
	a := &Archive{r: r, size: size, cdStart: int64(cdOff), byName: make(map[string]int, count)}
	p := cd
	for i := uint64(0); i < count; i++ {
		if len(p) < centralLen || binary.LittleEndian.Uint32(p) != sigCentral {
			return nil, malformed("central directory entry %d is truncated or has a bad signature", i)
		}
		nameLen := int(binary.LittleEndian.Uint16(p[28:]))
		extraLen := int(binary.LittleEndian.Uint16(p[30:]))
		commentLen := int(binary.LittleEndian.Uint16(p[32:]))
		if len(p) < centralLen+nameLen+extraLen+commentLen {
			return nil, malformed("central directory entry %d overruns the directory", i)
		}
		ent := Entry{
			Name:             string(p[centralLen : centralLen+nameLen]),
			Flags:            binary.LittleEndian.Uint16(p[8:]),
			Method:           binary.LittleEndian.Uint16(p[10:]),
			CRC32:            binary.LittleEndian.Uint32(p[16:]),
			CompressedSize:   uint64(binary.LittleEndian.Uint32(p[20:])),
			UncompressedSize: uint64(binary.LittleEndian.Uint32(p[24:])),
			HeaderOffset:     int64(binary.LittleEndian.Uint32(p[42:])),
			extraLen:         extraLen,
		}
		parseZip64Extra(&ent, p[centralLen+nameLen:centralLen+nameLen+extraLen])
		if ent.HeaderOffset < 0 || ent.HeaderOffset > int64(cdOff) ||
			ent.CompressedSize > cdOff-uint64(ent.HeaderOffset) {
			return nil, malformed("entry %q at %d (+%d) lies outside the data area", ent.Name, ent.HeaderOffset, ent.CompressedSize)
		}
		if _, dup := a.byName[ent.Name]; !dup {
			a.byName[ent.Name] = len(a.Entries)
		}
		a.Entries = append(a.Entries, ent)
		p = p[centralLen+nameLen+extraLen+commentLen:]
	}
	return a, nil
}

// parseZip64Extra replaces saturated 32-bit fields with their ZIP64 extra values, in the order
// the specification lists them (only those saturated are present).
func parseZip64Extra(e *Entry, extra []byte) {
	for len(extra) >= 4 {
		id := binary.LittleEndian.Uint16(extra)
		n := int(binary.LittleEndian.Uint16(extra[2:]))
		if n > len(extra)-4 {
			return
		}
		if id == 0x0001 {
			f := extra[4 : 4+n]
			next := func() (uint64, bool) {
				if len(f) < 8 {
					return 0, false
				}
				v := binary.LittleEndian.Uint64(f)
				f = f[8:]
				return v, true
			}
			if e.UncompressedSize == 0xffffffff {
				if v, ok := next(); ok {
					e.UncompressedSize = v
				}
			}
			if e.CompressedSize == 0xffffffff {
				if v, ok := next(); ok {
					e.CompressedSize = v
				}
			}
			if e.HeaderOffset == 0xffffffff {
				if v, ok := next(); ok && v < 1<<62 {
					e.HeaderOffset = int64(v)
				}
			}
			return
		}
		extra = extra[4+n:]
	}
}

// Lookup finds an entry by name; names compare case-insensitively as OPC part names do.
func (a *Archive) Lookup(name string) (Entry, bool) {
	name = strings.TrimPrefix(name, "/")
	if i, ok := a.byName[name]; ok {
		return a.Entries[i], true
	}
	for _, e := range a.Entries {
		if strings.EqualFold(e.Name, name) {
			return e, true
		}
	}
	return Entry{}, false
}

// Prefetcher is implemented by readers that can fetch several ranges in few round trips.
type Prefetcher interface {
	Prefetch(ranges []rangeio.Range, gap int64) error
}

// Prefetch asks the reader, when it can, to fetch the local headers and data of the named entries
// together with the extra ranges. Unknown names are ignored.
func (a *Archive) Prefetch(extra []rangeio.Range, names ...string) error {
	p, ok := a.r.(Prefetcher)
	if !ok {
		return nil
	}
	rs := extra
	for _, n := range names {
		e, ok := a.Lookup(n)
		if !ok {
			continue
		}
		rs = append(rs, rangeio.Range{
			Off: e.HeaderOffset,
			Len: localLen + int64(len(e.Name)) + int64(e.extraLen) + localSlack + int64(e.CompressedSize),
		})
	}
	return p.Prefetch(rs, 64<<10)
}

// ReadEntry returns the uncompressed bytes of the named entry, refusing more than limit bytes.
func (a *Archive) ReadEntry(name string, limit int64) ([]byte, error) {
	e, ok := a.Lookup(name)
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	if e.UncompressedSize > uint64(limit) {
		return nil, malformed("entry %q declares %d bytes, over the %d-byte limit", e.Name, e.UncompressedSize, limit)
	}
	h, err := readFull(a.r, e.HeaderOffset, localLen)
	if err != nil {
		return nil, err
	}
	if binary.LittleEndian.Uint32(h) != sigLocal {
		return nil, malformed("entry %q: bad local header signature at %d", e.Name, e.HeaderOffset)
	}
	dataOff := e.HeaderOffset + localLen + int64(binary.LittleEndian.Uint16(h[26:])) + int64(binary.LittleEndian.Uint16(h[28:]))
	if uint64(dataOff)+e.CompressedSize > uint64(a.cdStart) {
		return nil, malformed("entry %q data runs past the central directory", e.Name)
	}
	var out []byte
	switch e.Method {
	case 0:
		if e.CompressedSize != e.UncompressedSize {
			return nil, malformed("stored entry %q has different sizes", e.Name)
		}
		out, err = readFull(a.r, dataOff, int(e.CompressedSize))
		if err != nil {
			return nil, err
		}
	case 8:
		// Deflate never expands data by more than a few bytes per 16 KiB block.
		if e.CompressedSize > uint64(limit)+uint64(limit)/8+1024 {
			return nil, malformed("entry %q compressed size %d is implausible", e.Name, e.CompressedSize)
		}
		comp, err := readFull(a.r, dataOff, int(e.CompressedSize))
		if err != nil {
			return nil, err
		}
		out, err = inflate(comp, int(e.UncompressedSize))
		if err != nil {
			return nil, malformed("entry %q: inflate: %v", e.Name, err)
		}
	default:
		return nil, malformed("entry %q uses unsupported compression method %d", e.Name, e.Method)
	}
	if uint64(len(out)) != e.UncompressedSize {
		return nil, malformed("entry %q: %d bytes, central directory says %d", e.Name, len(out), e.UncompressedSize)
	}
	if crc32.ChecksumIEEE(out) != e.CRC32 {
		return nil, malformed("entry %q: CRC mismatch", e.Name)
	}
	return out, nil
}

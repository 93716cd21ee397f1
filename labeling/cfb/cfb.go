// Package cfb reads (and, for tests, builds) OLE compound files, the container of protected Office
// documents, with every size, chain and tree walk bounded.
package cfb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf16"

	"github.com/labelgate/labelgate/labeling/rangeio"
)

// Magic is the first eight bytes of every compound file.
var Magic = []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}

// ErrMalformed marks a structurally broken compound file.
var ErrMalformed = errors.New("malformed compound file")

const (
	endOfChain  = 0xFFFFFFFE
	freeSect    = 0xFFFFFFFF
	maxRegSect  = 0xFFFFFFFA
	noStream    = 0xFFFFFFFF
	headerSize  = 512
	dirEntrySz  = 128
	maxDirs     = 1 << 16
	miniSectSz  = 64
	miniCutoff  = 4096
	maxFATBytes = 8 << 20
)

// Entry types.
const (
	TypeStorage = 1
	TypeStream  = 2
	TypeRoot    = 5
)

// Entry is one directory entry.
type Entry struct {
	ID    uint32 // index in the directory: tells entries apart when walking storages
	Name  string
	Type  byte
	left  uint32
	right uint32
	child uint32
	start uint32
	Size  uint64
}

// File is an opened compound file. FAT and mini-FAT sectors are read when a chain first needs
// them, and a stream's sectors when it is read, so that finding one small stream in a large
// file costs a few sectors rather than the whole allocation table ([MS-CFB] 2.3, 2.5).
type File struct {
	r        io.ReaderAt
	size     int64
	shift    uint
	fatSects []uint32          // sector numbers of the FAT, in order (header + DIFAT)
	fatCache map[uint32][]byte // FAT sectors read so far, by their index in fatSects
	miniFAT  []uint32          // sector chain of the mini FAT
	miniSect map[uint32][]byte // mini-FAT sectors read so far, by index in miniFAT
	dirs     []Entry
	rootRun  []uint32 // sectors of the root entry's mini stream, resolved as far as needed
	rootNext uint32   // where rootRun's chain continues
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

func readAt(r io.ReaderAt, off int64, n int) ([]byte, error) {
	b, err := rangeio.ReadFull(r, off, n)
	if err != nil && !errors.Is(err, rangeio.ErrCacheFull) {
		err = fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return b, err
}

// Open reads the header, the FAT, the directory and the mini FAT.
func Open(r io.ReaderAt, size int64) (*File, error) {
	if size < headerSize {
		return nil, malformed("%d bytes is too small for a compound file", size)
	}
	h, err := readAt(r, 0, headerSize)
	if err != nil {
		return nil, err
	}
	if string(h[:8]) != string(Magic) {
		return nil, malformed("bad signature")
	}
	shift := uint(binary.LittleEndian.Uint16(h[0x1E:]))
	if shift != 9 && shift != 12 {
		return nil, malformed("sector shift %d", shift)
	}
	f := &File{r: r, size: size, shift: shift}
	secSize := int64(1) << shift
	nSectors := (size + secSize - 1) / secSize
	numFAT := int64(binary.LittleEndian.Uint32(h[0x2C:]))
	if numFAT*secSize > maxFATBytes || numFAT > nSectors {
		return nil, malformed("%d FAT sectors in a %d-byte file", numFAT, size)
	}
	// Collect the FAT sector numbers: 109 in the header, the rest in the DIFAT chain.
	fatSects := make([]uint32, 0, numFAT)
	for i := 0; i < 109 && int64(len(fatSects)) < numFAT; i++ {
		fatSects = append(fatSects, binary.LittleEndian.Uint32(h[0x4C+4*i:]))
	}
	difat := binary.LittleEndian.Uint32(h[0x44:])
	for hops := int64(0); int64(len(fatSects)) < numFAT; hops++ {
		if difat > maxRegSect || hops > nSectors {
			return nil, malformed("DIFAT chain ends early")
		}
		s, err := f.sector(difat)
		if err != nil {
			return nil, err
		}
		per := len(s)/4 - 1
		for i := 0; i < per && int64(len(fatSects)) < numFAT; i++ {
			fatSects = append(fatSects, binary.LittleEndian.Uint32(s[4*i:]))
		}
		difat = binary.LittleEndian.Uint32(s[4*per:])
	}
	f.fatSects, f.fatCache, f.miniSect = fatSects, map[uint32][]byte{}, map[uint32][]byte{}
	dirData, err := f.chain(binary.LittleEndian.Uint32(h[0x30:]), secSize, -1, maxDirs*dirEntrySz, f.fatNext, f.sector)
	if err != nil {
		return nil, fmt.Errorf("directory: %w", err)
	}
	for i := 0; i+dirEntrySz <= len(dirData); i += dirEntrySz {
		e := parseEntry(dirData[i : i+dirEntrySz])
		e.ID = uint32(len(f.dirs))
		f.dirs = append(f.dirs, e)
	}
	if len(f.dirs) == 0 || f.dirs[0].Type != TypeRoot {
		return nil, malformed("no root entry")
	}
	// The mini FAT's sector chain is resolved now (its sectors are read when used): it is short,
	// one sector per 128 mini sectors.
	if first := binary.LittleEndian.Uint32(h[0x3C:]); first <= maxRegSect {
		for s, hops := first, 0; s != endOfChain; hops++ {
			if s > maxRegSect || hops > int(nSectors) {
				return nil, malformed("mini FAT chain broken or cyclic at %d", s)
			}
			f.miniFAT = append(f.miniFAT, s)
			if s, err = f.fatNext(s); err != nil {
				return nil, fmt.Errorf("mini FAT: %w", err)
			}
		}
	}
	f.rootNext = f.dirs[0].start
	return f, nil
}

func parseEntry(b []byte) Entry {
	nameLen := int(binary.LittleEndian.Uint16(b[0x40:]))
	nameLen = min(max(nameLen-2, 0), 62) / 2
	u := make([]uint16, 0, nameLen)
	for i := 0; i < nameLen; i++ {
		u = append(u, binary.LittleEndian.Uint16(b[2*i:]))
	}
	return Entry{
		Name:  string(utf16.Decode(u)),
		Type:  b[0x42],
		left:  binary.LittleEndian.Uint32(b[0x44:]),
		right: binary.LittleEndian.Uint32(b[0x48:]),
		child: binary.LittleEndian.Uint32(b[0x4C:]),
		start: binary.LittleEndian.Uint32(b[0x74:]),
		Size:  binary.LittleEndian.Uint64(b[0x78:]),
	}
}

func (f *File) sector(n uint32) ([]byte, error) {
	secSize := int64(1) << f.shift
	off := (int64(n) + 1) * secSize
	if n > maxRegSect || off+secSize > f.size {
		return nil, malformed("sector %d out of range", n)
	}
	return readAt(f.r, off, int(secSize))
}

// fatNext returns the FAT entry of sector n: the next sector of its chain.
func (f *File) fatNext(n uint32) (uint32, error) {
	per := uint32(1) << (f.shift - 2)
	idx := n / per
	if n > maxRegSect || int(idx) >= len(f.fatSects) {
		return 0, malformed("sector %d is beyond the FAT", n)
	}
	sec, ok := f.fatCache[idx]
	if !ok {
		var err error
		if sec, err = f.sector(f.fatSects[idx]); err != nil {
			return 0, fmt.Errorf("FAT: %w", err)
		}
		f.fatCache[idx] = sec
	}
	return binary.LittleEndian.Uint32(sec[4*(n%per):]), nil
}

// miniNext returns the mini-FAT entry of mini sector n.
func (f *File) miniNext(n uint32) (uint32, error) {
	per := uint32(1) << (f.shift - 2)
	idx := n / per
	if n > maxRegSect || int(idx) >= len(f.miniFAT) {
		return 0, malformed("mini sector %d is beyond the mini FAT", n)
	}
	sec, ok := f.miniSect[idx]
	if !ok {
		var err error
		if sec, err = f.sector(f.miniFAT[idx]); err != nil {
			return 0, fmt.Errorf("mini FAT: %w", err)
		}
		f.miniSect[idx] = sec
	}
	return binary.LittleEndian.Uint32(sec[4*(n%per):]), nil
}

// miniSector reads mini sector n from the mini stream, following the root entry's chain only
// as far as n needs.
func (f *File) miniSector(n uint32) ([]byte, error) {
	secSize := int64(1) << f.shift
	off := int64(n) * miniSectSz
	root := f.Root()
	if n > maxRegSect || off+miniSectSz > int64(root.Size) {
		return nil, malformed("mini sector %d out of range", n)
	}
	k := int(off / secSize)
	for len(f.rootRun) <= k {
		if f.rootNext > maxRegSect || len(f.rootRun) > int(f.size/secSize) {
			return nil, malformed("mini stream chain broken or cyclic")
		}
		f.rootRun = append(f.rootRun, f.rootNext)
		next, err := f.fatNext(f.rootNext)
		if err != nil {
			return nil, fmt.Errorf("mini stream: %w", err)
		}
		f.rootNext = next
	}
	b, err := f.sector(f.rootRun[k])
	if err != nil {
		return nil, fmt.Errorf("mini stream: %w", err)
	}
	in := off % secSize
	return b[in : in+miniSectSz], nil
}

// chain concatenates the sectors of a chain up to its end, or until want bytes are in when
// want >= 0. Reading to the end refuses more than limit bytes; cycles are refused either way
// (a chain longer than the file has sectors must loop).
func (f *File) chain(start uint32, secSize, want, limit int64, next func(uint32) (uint32, error), get func(uint32) ([]byte, error)) ([]byte, error) {
	var out []byte
	maxHops := int(f.size/miniSectSz) + 1
	for s, hops := start, 0; s != endOfChain; hops++ {
		if want >= 0 && int64(len(out)) >= want {
			return out, nil
		}
		if s > maxRegSect || hops > maxHops {
			return nil, malformed("sector chain broken or cyclic at %d", s)
		}
		if int64(len(out))+secSize > limit {
			return nil, malformed("sector chain longer than %d bytes", limit)
		}
		b, err := get(s)
		if err != nil {
			return nil, err
		}
		out = append(out, b...)
		if s, err = next(s); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Root is the root storage.
func (f *File) Root() Entry { return f.dirs[0] }

// Children lists the entries of a storage (bounded against cyclic trees).
func (f *File) Children(e Entry) []Entry {
	var out []Entry
	seen := make(map[uint32]bool)
	var walk func(id uint32, depth int)
	walk = func(id uint32, depth int) {
		if id == noStream || int(id) >= len(f.dirs) || seen[id] || depth > 64 {
			return
		}
		seen[id] = true
		d := f.dirs[id]
		walk(d.left, depth+1)
		out = append(out, d)
		walk(d.right, depth+1)
	}
	walk(e.child, 0)
	return out
}

// Find walks path components from the root, comparing names case-insensitively.
func (f *File) Find(path ...string) (Entry, bool) {
	cur := f.Root()
	for _, p := range path {
		found := false
		for _, c := range f.Children(cur) {
			if strings.EqualFold(c.Name, p) {
				cur, found = c, true
				break
			}
		}
		if !found {
			return Entry{}, false
		}
	}
	return cur, true
}

// ReadStream returns a stream's bytes, refusing streams over limit bytes.
func (f *File) ReadStream(e Entry, limit int64) ([]byte, error) {
	if e.Type != TypeStream {
		return nil, malformed("%q is not a stream", e.Name)
	}
	size := f.streamSize(e)
	if size > uint64(limit) {
		return nil, malformed("stream %q of %d bytes is over the %d-byte limit", e.Name, size, limit)
	}
	return f.readPrefix(e, size)
}

// ReadStreamPrefix returns up to the first n bytes of a stream, reading only their sectors.
func (f *File) ReadStreamPrefix(e Entry, n int64) ([]byte, error) {
	if e.Type != TypeStream {
		return nil, malformed("%q is not a stream", e.Name)
	}
	return f.readPrefix(e, min(f.streamSize(e), uint64(max(n, 0))))
}

func (f *File) streamSize(e Entry) uint64 {
	if f.shift == 9 {
		return e.Size & 0xFFFFFFFF // version 3 files may leave garbage in the high half
	}
	return e.Size
}

// readPrefix reads the first n bytes of stream e (n at most its size).
func (f *File) readPrefix(e Entry, n uint64) ([]byte, error) {
	full := f.streamSize(e)
	if n == 0 {
		return []byte{}, nil
	}
	var data []byte
	var err error
	if full < miniCutoff {
		data, err = f.chain(e.start, miniSectSz, int64(n), int64(n)+miniSectSz, f.miniNext, f.miniSector)
	} else {
		secSize := int64(1) << f.shift
		data, err = f.chain(e.start, secSize, int64(n), int64(n)+secSize, f.fatNext, f.sector)
	}
	if err != nil {
		return nil, fmt.Errorf("stream %q: %w", e.Name, err)
	}
	if uint64(len(data)) < n {
		return nil, malformed("stream %q is shorter than its %d declared bytes", e.Name, full)
	}
	return data[:n], nil
}

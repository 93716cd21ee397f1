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
	Name  string
	Type  byte
	left  uint32
	right uint32
	child uint32
	start uint32
	Size  uint64
}

// File is an opened compound file.
type File struct {
	r       io.ReaderAt
	size    int64
	shift   uint
	fat     []uint32
	miniFAT []uint32
	dirs    []Entry
	mini    []byte // the root entry's mini stream, loaded on first use
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
	for _, fs := range fatSects {
		s, err := f.sector(fs)
		if err != nil {
			return nil, fmt.Errorf("FAT: %w", err)
		}
		for i := 0; i+4 <= len(s); i += 4 {
			f.fat = append(f.fat, binary.LittleEndian.Uint32(s[i:]))
		}
	}
	dirData, err := f.chain(binary.LittleEndian.Uint32(h[0x30:]), f.fat, secSize, maxDirs*dirEntrySz, f.sector)
	if err != nil {
		return nil, fmt.Errorf("directory: %w", err)
	}
	for i := 0; i+dirEntrySz <= len(dirData); i += dirEntrySz {
		f.dirs = append(f.dirs, parseEntry(dirData[i:i+dirEntrySz]))
	}
	if len(f.dirs) == 0 || f.dirs[0].Type != TypeRoot {
		return nil, malformed("no root entry")
	}
	if first := binary.LittleEndian.Uint32(h[0x3C:]); first <= maxRegSect {
		mf, err := f.chain(first, f.fat, secSize, maxFATBytes, f.sector)
		if err != nil {
			return nil, fmt.Errorf("mini FAT: %w", err)
		}
		for i := 0; i+4 <= len(mf); i += 4 {
			f.miniFAT = append(f.miniFAT, binary.LittleEndian.Uint32(mf[i:]))
		}
	}
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

func (f *File) miniSector(n uint32) ([]byte, error) {
	off := int64(n) * miniSectSz
	if n > maxRegSect || off+miniSectSz > int64(len(f.mini)) {
		return nil, malformed("mini sector %d out of range", n)
	}
	return f.mini[off : off+miniSectSz], nil
}

// chain concatenates the sectors of a chain, refusing more than limit bytes and cycles
// (a chain longer than the table it walks must loop).
func (f *File) chain(start uint32, table []uint32, secSize, limit int64, get func(uint32) ([]byte, error)) ([]byte, error) {
	var out []byte
	for s, hops := start, 0; s != endOfChain; hops++ {
		if s > maxRegSect || int(s) >= len(table) || hops > len(table) {
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
		s = table[s]
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
	if f.shift == 9 {
		e.Size &= 0xFFFFFFFF // version 3 files may leave garbage in the high half
	}
	if e.Size > uint64(limit) {
		return nil, malformed("stream %q of %d bytes is over the %d-byte limit", e.Name, e.Size, limit)
	}
	var data []byte
	var err error
	if e.Size < miniCutoff {
		if f.mini == nil {
			root := f.Root()
			f.mini, err = f.chain(root.start, f.fat, 1<<f.shift, min(int64(root.Size), maxFATBytes)+1<<f.shift, f.sector)
			if err != nil {
				return nil, fmt.Errorf("mini stream: %w", err)
			}
		}
		data, err = f.chain(e.start, f.miniFAT, miniSectSz, int64(e.Size)+miniSectSz, f.miniSector)
	} else {
		data, err = f.chain(e.start, f.fat, 1<<f.shift, int64(e.Size)+1<<f.shift, f.sector)
	}
	if err != nil {
		return nil, fmt.Errorf("stream %q: %w", e.Name, err)
	}
	if uint64(len(data)) < e.Size {
		return nil, malformed("stream %q is shorter than its %d declared bytes", e.Name, e.Size)
	}
	return data[:e.Size], nil
}

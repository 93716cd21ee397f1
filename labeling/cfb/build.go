package cfb

import (
	"encoding/binary"
	"fmt"
	"sort"
	"strings"
	"unicode/utf16"
)

// Stream is one stream to put in a built compound file; Path separates storages with "/".
type Stream struct {
	Path string
	Data []byte
}

type node struct {
	name     string
	stream   bool
	data     []byte
	children []*node
	id       uint32
	start    uint32
	left     uint32
	right    uint32
	child    uint32
}

// Build writes a version 3 (512-byte sector) compound file holding the given streams, creating
// storages as the paths require. It exists so tests can make protected Office containers; it
// supports files up to about 7 MB (no DIFAT sectors).
func Build(streams []Stream) ([]byte, error) {
	root := &node{name: "Root Entry"}
	for _, s := range streams {
		parts := strings.Split(s.Path, "/")
		cur := root
		for i, p := range parts {
			var next *node
			for _, c := range cur.children {
				if strings.EqualFold(c.name, p) {
					next = c
				}
			}
			if next == nil {
				next = &node{name: p}
				cur.children = append(cur.children, next)
			}
			if i == len(parts)-1 {
				next.stream, next.data = true, s.Data
			}
			cur = next
		}
	}
	var all []*node
	var number func(n *node)
	number = func(n *node) {
		n.id = uint32(len(all))
		all = append(all, n)
		for _, c := range n.children {
			number(c)
		}
	}
	number(root)

	const sec = 512
	var sectors [][]byte
	fat := []uint32{}
	addChain := func(data []byte, size int) uint32 {
		if len(data) == 0 {
			return endOfChain
		}
		first := uint32(len(sectors))
		for off := 0; off < len(data); off += size {
			b := make([]byte, size)
			copy(b, data[off:])
			sectors = append(sectors, b)
			fat = append(fat, uint32(len(sectors)))
		}
		fat[len(fat)-1] = endOfChain
		return first
	}
	// Small streams live in the mini stream, in 64-byte mini sectors.
	var mini []byte
	var miniFAT []uint32
	for _, n := range all {
		if !n.stream {
			continue
		}
		if len(n.data) >= miniCutoff {
			n.start = addChain(n.data, sec)
			continue
		}
		if len(n.data) == 0 {
			n.start = endOfChain
			continue
		}
		n.start = uint32(len(miniFAT))
		for off := 0; off < len(n.data); off += miniSectSz {
			b := make([]byte, miniSectSz)
			copy(b, n.data[off:])
			mini = append(mini, b...)
			miniFAT = append(miniFAT, uint32(len(miniFAT)+1))
		}
		miniFAT[len(miniFAT)-1] = endOfChain
	}
	root.start = addChain(mini, sec)
	root.data = mini
	mf := make([]byte, 4*len(miniFAT))
	for i, v := range miniFAT {
		binary.LittleEndian.PutUint32(mf[4*i:], v)
	}
	miniFATStart := addChain(mf, sec)
	for _, n := range all {
		kids := n.children
		sort.Slice(kids, func(i, j int) bool { return less(kids[i].name, kids[j].name) })
		n.child = balance(kids)
	}
	dir := make([]byte, 0, dirEntrySz*len(all))
	for _, n := range all {
		dir = append(dir, entryBytes(n)...)
	}
	dirStart := addChain(dir, sec)
	// FAT sectors describe themselves too, so grow until the count is stable.
	nFAT := 1
	for (len(sectors)+nFAT)*4 > nFAT*sec {
		nFAT++
	}
	if nFAT > 109 {
		return nil, fmt.Errorf("cfb: %d FAT sectors need DIFAT, unsupported", nFAT)
	}
	fatStart := len(sectors)
	for i := 0; i < nFAT; i++ {
		fat = append(fat, 0xFFFFFFFD)
	}
	for len(fat) < nFAT*sec/4 {
		fat = append(fat, freeSect)
	}
	for i := 0; i < nFAT; i++ {
		b := make([]byte, sec)
		for j := 0; j < sec/4; j++ {
			binary.LittleEndian.PutUint32(b[4*j:], fat[i*sec/4+j])
		}
		sectors = append(sectors, b)
	}
	h := make([]byte, headerSize)
	copy(h, Magic)
	binary.LittleEndian.PutUint16(h[0x18:], 0x3E)
	binary.LittleEndian.PutUint16(h[0x1A:], 3)
	binary.LittleEndian.PutUint16(h[0x1C:], 0xFFFE)
	binary.LittleEndian.PutUint16(h[0x1E:], 9)
	binary.LittleEndian.PutUint16(h[0x20:], 6)
	binary.LittleEndian.PutUint32(h[0x2C:], uint32(nFAT))
	binary.LittleEndian.PutUint32(h[0x30:], dirStart)
	binary.LittleEndian.PutUint32(h[0x38:], miniCutoff)
	binary.LittleEndian.PutUint32(h[0x3C:], miniFATStart)
	binary.LittleEndian.PutUint32(h[0x40:], uint32((len(mf)+sec-1)/sec))
	binary.LittleEndian.PutUint32(h[0x44:], endOfChain)
	for i := 0; i < 109; i++ {
		v := uint32(freeSect)
		if i < nFAT {
			v = uint32(fatStart + i)
		}
		binary.LittleEndian.PutUint32(h[0x4C+4*i:], v)
	}
	out := make([]byte, 0, headerSize+sec*len(sectors))
	out = append(out, h...)
	for _, s := range sectors {
		out = append(out, s...)
	}
	return out, nil
}

// less is the compound-file name order: shorter names first, then by upper-cased code units.
func less(a, b string) bool {
	ua, ub := utf16.Encode([]rune(strings.ToUpper(a))), utf16.Encode([]rune(strings.ToUpper(b)))
	if len(ua) != len(ub) {
		return len(ua) < len(ub)
	}
	for i := range ua {
		if ua[i] != ub[i] {
			return ua[i] < ub[i]
		}
	}
	return false
}

// balance links sorted siblings into a balanced binary tree and returns its root id.
func balance(kids []*node) uint32 {
	if len(kids) == 0 {
		return noStream
	}
	m := len(kids) / 2
	kids[m].left = balance(kids[:m])
	kids[m].right = balance(kids[m+1:])
	return kids[m].id
}

func entryBytes(n *node) []byte {
	b := make([]byte, dirEntrySz)
	u := utf16.Encode([]rune(n.name))
	if len(u) > 31 {
		u = u[:31]
	}
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	binary.LittleEndian.PutUint16(b[0x40:], uint16(2*len(u)+2))
	switch {
	case n.id == 0:
		b[0x42] = TypeRoot
	case n.stream:
		b[0x42] = TypeStream
	default:
		b[0x42] = TypeStorage
	}
	b[0x43] = 1 // black
	if n.id == 0 {
		n.left, n.right = noStream, noStream
	}
	binary.LittleEndian.PutUint32(b[0x44:], n.left)
	binary.LittleEndian.PutUint32(b[0x48:], n.right)
	binary.LittleEndian.PutUint32(b[0x4C:], n.child)
	binary.LittleEndian.PutUint32(b[0x74:], n.start)
	binary.LittleEndian.PutUint64(b[0x78:], uint64(len(n.data)))
	return b
}

// Package ole parses OLE property set streams ([MS-OLEPS]) far enough to read the user-defined
// properties of a \005DocumentSummaryInformation stream, where legacy binary Office files and
// password-encrypted Office packages keep their MSIP_Label_ properties. Every count, offset and
// length is checked against the stream, so arbitrary input costs at most its own size.
package ole

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// ErrMalformed marks a property set stream that breaks [MS-OLEPS].
var ErrMalformed = errors.New("malformed OLE property set")

// FMTIDUserDefined is FMTID_UserDefinedProperties {D5CDD505-2E9C-101B-9397-08002B2CF9AE}, the
// second property set of \005DocumentSummaryInformation ([MS-OLEPS] 2.25.2, [MS-OSHARED]
// 2.3.3.2.3), in its on-disk (little-endian GUID) byte order.
var FMTIDUserDefined = [16]byte{0x05, 0xD5, 0xCD, 0xD5, 0x9C, 0x2E, 0x1B, 0x10, 0x93, 0x97, 0x08, 0x00, 0x2B, 0x2C, 0xF9, 0xAE}

// Property types read ([MS-OLEPS] 2.15 TypedPropertyValue); others are skipped.
const (
	vtI2       = 0x0002
	vtI4       = 0x0003
	vtBool     = 0x000B
	vtLPSTR    = 0x001E
	vtLPWSTR   = 0x001F
	vtFILETIME = 0x0040

	pidDictionary = 0x00000000
	pidCodePage   = 0x00000001
	cpUnicode     = 1200  // CP_WINUNICODE ([MS-OLEPS] 2.18.2)
	cpUTF8        = 65001 // CP_UTF8

	maxProps = 1 << 14
	maxValue = 1 << 16 // MSIP values are at most 255 characters; generous room for others
)

// Property is one named user-defined property, its value rendered as text.
type Property struct {
	Name  string
	Value string
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// UserDefined returns the named properties of the user-defined property set in a
// \005DocumentSummaryInformation stream, in the order the set lists them; nil when the stream has
// no such set.
func UserDefined(stream []byte) ([]Property, error) {
	// PropertySetStream ([MS-OLEPS] 2.21): ByteOrder 0xFFFE, Version, SystemIdentifier, CLSID,
	// NumPropertySets, then (FMTID, Offset) pairs.
	if len(stream) < 28 {
		return nil, malformed("%d bytes is too short for a property set stream", len(stream))
	}
	if binary.LittleEndian.Uint16(stream) != 0xFFFE {
		return nil, malformed("byte order mark %#04x is not 0xFFFE", binary.LittleEndian.Uint16(stream))
	}
	n := binary.LittleEndian.Uint32(stream[24:])
	if n > 2 && int64(n) > int64(len(stream)-28)/20 {
		return nil, malformed("%d property sets in a %d-byte stream", n, len(stream))
	}
	for i := 0; i < int(n); i++ {
		at := 28 + 20*i
		if at+20 > len(stream) {
			return nil, malformed("property set %d's header is past the end", i)
		}
		if [16]byte(stream[at:at+16]) != FMTIDUserDefined {
			continue
		}
		off := binary.LittleEndian.Uint32(stream[at+16:])
		if int64(off) >= int64(len(stream)) {
			return nil, malformed("user-defined property set at %d is past the %d-byte stream", off, len(stream))
		}
		return parseSet(stream[off:])
	}
	return nil, nil
}

// parseSet reads one PropertySet ([MS-OLEPS] 2.20): Size, NumProperties, (PropertyIdentifier,
// Offset) pairs with offsets from the set's start, then the values.
func parseSet(b []byte) ([]Property, error) {
	if len(b) < 8 {
		return nil, malformed("property set header is past the end")
	}
	size := binary.LittleEndian.Uint32(b)
	if size < 8 || int64(size) > int64(len(b)) {
		return nil, malformed("property set size %d does not fit its %d bytes", size, len(b))
	}
	b = b[:size]
	count := binary.LittleEndian.Uint32(b[4:])
	if count > maxProps || int64(count) > int64(len(b)-8)/8 {
		return nil, malformed("%d properties in a %d-byte property set", count, len(b))
	}
	type pidOff struct{ pid, off uint32 }
	entries := make([]pidOff, count)
	codePage := -1
	dictOff := uint32(0)
	hasDict := false
	for i := range entries {
		e := pidOff{binary.LittleEndian.Uint32(b[8+8*i:]), binary.LittleEndian.Uint32(b[12+8*i:])}
		if e.off < 8 || int64(e.off)+4 > int64(len(b)) {
			return nil, malformed("property %#x at offset %d is outside the set", e.pid, e.off)
		}
		entries[i] = e
		switch e.pid {
		case pidCodePage:
			if binary.LittleEndian.Uint16(b[e.off:]) == vtI2 && int64(e.off)+6 <= int64(len(b)) {
				codePage = int(binary.LittleEndian.Uint16(b[e.off+4:]))
			}
		case pidDictionary:
			dictOff, hasDict = e.off, true
		}
	}
	if !hasDict {
		return nil, nil // no names: no MSIP_Label_ properties either
	}
	names, err := dictionary(b, dictOff, codePage)
	if err != nil {
		return nil, err
	}
	var out []Property
	for _, e := range entries {
		name, ok := names[e.pid]
		if !ok || e.pid == pidDictionary || e.pid == pidCodePage {
			continue
		}
		v, ok, err := value(b[e.off:], codePage)
		if err != nil {
			return nil, fmt.Errorf("property %q: %w", name, err)
		}
		if ok {
			out = append(out, Property{Name: name, Value: v})
		}
	}
	return out, nil
}

// dictionary reads the Dictionary property ([MS-OLEPS] 2.17): NumEntries, then per entry a
// PropertyIdentifier, a Length in characters (NUL included) and the name; with the Unicode code
// page the name is UTF-16 and padded to a multiple of 4 bytes.
func dictionary(b []byte, off uint32, codePage int) (map[uint32]string, error) {
	p := int(off)
	n := binary.LittleEndian.Uint32(b[p:])
	p += 4
	if int64(n) > int64(len(b)-p)/8 {
		return nil, malformed("dictionary of %d entries in %d bytes", n, len(b)-p)
	}
	names := make(map[uint32]string, n)
	for i := uint32(0); i < n; i++ {
		if p+8 > len(b) {
			return nil, malformed("dictionary entry %d is past the end", i)
		}
		pid, chars := binary.LittleEndian.Uint32(b[p:]), binary.LittleEndian.Uint32(b[p+4:])
		p += 8
		width := 1
		if codePage == cpUnicode {
			width = 2
		}
		if int64(chars)*int64(width) > int64(len(b)-p) {
			return nil, malformed("dictionary name of %d characters runs past the end", chars)
		}
		raw := b[p : p+int(chars)*width]
		p += len(raw)
		if codePage == cpUnicode {
			p += (4 - len(raw)%4) % 4
		}
		names[pid] = decode(raw, codePage)
	}
	return names, nil
}

// value renders a TypedPropertyValue as text; ok is false for types labels never use.
func value(b []byte, codePage int) (string, bool, error) {
	typ := binary.LittleEndian.Uint16(b)
	v := b[4:]
	need := func(n int) error {
		if n > len(v) {
			return malformed("value of type %#x needs %d bytes, %d left", typ, n, len(v))
		}
		return nil
	}
	switch typ {
	case vtLPSTR:
		// CodePageString ([MS-OLEPS] 2.5): Size in bytes, then the characters (NUL included).
		if err := need(4); err != nil {
			return "", false, err
		}
		n := int64(binary.LittleEndian.Uint32(v))
		if n > maxValue || n > int64(len(v)-4) {
			return "", false, malformed("string of %d bytes runs past the end", n)
		}
		return decode(v[4:4+n], codePage), true, nil
	case vtLPWSTR:
		// UnicodeString ([MS-OLEPS] 2.7): Length in characters (NUL included), UTF-16LE.
		if err := need(4); err != nil {
			return "", false, err
		}
		n := int64(binary.LittleEndian.Uint32(v))
		if n > maxValue || 2*n > int64(len(v)-4) {
			return "", false, malformed("string of %d characters runs past the end", n)
		}
		return decode(v[4:4+2*n], cpUnicode), true, nil
	case vtBool:
		if err := need(2); err != nil {
			return "", false, err
		}
		return strconv.FormatBool(binary.LittleEndian.Uint16(v) != 0), true, nil
	case vtI2:
		if err := need(2); err != nil {
			return "", false, err
		}
		return strconv.Itoa(int(int16(binary.LittleEndian.Uint16(v)))), true, nil
	case vtI4:
		if err := need(4); err != nil {
			return "", false, err
		}
		return strconv.Itoa(int(int32(binary.LittleEndian.Uint32(v)))), true, nil
	case vtFILETIME:
		if err := need(8); err != nil {
			return "", false, err
		}
		// 100-ns intervals since 1601-01-01 UTC.
		ft := binary.LittleEndian.Uint64(v)
		const epochDiff = 116444736000000000
		if ft < epochDiff {
			return "", true, nil
		}
		d := ft - epochDiff
		t := time.Unix(int64(d/10_000_000), int64(d%10_000_000)*100).UTC()
		return t.Format(time.RFC3339), true, nil
	}
	return "", false, nil
}

// decode turns a stored string into Go text, dropping the terminating NUL(s). Code pages other
// than UTF-16 and UTF-8 are read as Windows-1252's Latin-1 subset: MSIP names and values are
// ASCII (GUIDs, dates, method words), so nothing that matters is lost.
func decode(raw []byte, codePage int) string {
	var s string
	switch codePage {
	case cpUnicode:
		u := make([]uint16, 0, len(raw)/2)
		for i := 0; i+1 < len(raw); i += 2 {
			u = append(u, binary.LittleEndian.Uint16(raw[i:]))
		}
		s = string(utf16.Decode(u))
	case cpUTF8:
		s = strings.ToValidUTF8(string(raw), "\uFFFD")
	default:
		if utf8.Valid(raw) && isASCII(raw) {
			s = string(raw)
		} else {
			r := make([]rune, len(raw))
			for i, c := range raw {
				r[i] = rune(c)
			}
			s = string(r)
		}
	}
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	return s
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

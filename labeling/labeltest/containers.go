package labeltest

import (
	"encoding/binary"
	"fmt"
	"unicode/utf16"

	"github.com/labelgate/labelgate/labeling/cfb"
)

// Sublabel returns the records an AIP-classic writer leaves for a sublabel: the parent's full
// property set, and the child's with _Parent naming the parent (shared/samples/real/README.md).
func Sublabel(child, parent Label) []Label {
	child.Parent = parent.ID
	return []Label{parent, child}
}

// GUIDs of the two property sets of \005DocumentSummaryInformation, on-disk byte order.
var (
	fmtidDocSummary = []byte{0x02, 0xD5, 0xCD, 0xD5, 0x9C, 0x2E, 0x1B, 0x10, 0x93, 0x97, 0x08, 0x00, 0x2B, 0x2C, 0xF9, 0xAE}
	fmtidUser       = []byte{0x05, 0xD5, 0xCD, 0xD5, 0x9C, 0x2E, 0x1B, 0x10, 0x93, 0x97, 0x08, 0x00, 0x2B, 0x2C, 0xF9, 0xAE}
)

type le []byte

func (b *le) u16(v int) { *b = binary.LittleEndian.AppendUint16(*b, uint16(v)) }
func (b *le) u32(v int) { *b = binary.LittleEndian.AppendUint32(*b, uint32(v)) }
func (b *le) pad4() {
	for len(*b)%4 != 0 {
		*b = append(*b, 0)
	}
}

// str appends a string in the set's code page: 1200 = UTF-16LE, otherwise single bytes; n is
// its length in characters with the terminating NUL.
func (b *le) str(s string, unicode bool) {
	if unicode {
		u := utf16.Encode([]rune(s + "\x00"))
		for _, c := range u {
			b.u16(int(c))
		}
		return
	}
	*b = append(*b, s+"\x00"...)
}

func strLen(s string, unicode bool) int {
	if unicode {
		return len(utf16.Encode([]rune(s))) + 1
	}
	return len(s) + 1
}

// DocSummaryInfo builds a \005DocumentSummaryInformation stream ([MS-OLEPS] 2.21, [MS-OSHARED]
// 2.3.3.2) whose user-defined property set holds MSIP_Label_ properties for ls, as Office writes
// them into legacy and password-encrypted files. unicode selects code page 1200 (names and
// values UTF-16) instead of 1252.
func DocSummaryInfo(ls []Label, unicode bool) []byte {
	type prop struct{ name, value string }
	props := []prop{{"Company", "Contoso Ltd"}}
	for _, l := range ls {
		p := "MSIP_Label_" + l.ID + "_"
		enabled := "true"
		if l.Disabled {
			enabled = "false"
		}
		props = append(props, prop{p + "Enabled", enabled})
		if l.SetDate != "" {
			props = append(props, prop{p + "SetDate", l.SetDate})
		}
		props = append(props, prop{p + "Method", l.Method})
		if l.Name != "" {
			props = append(props, prop{p + "Name", l.Name})
		}
		props = append(props, prop{p + "SiteId", l.Tenant}, prop{p + "ActionId", "ddbea608-f111-42a3-9a51-292cb6e8250a"},
			prop{p + "ContentBits", fmt.Sprint(l.ContentBits)})
		if l.Parent != "" {
			props = append(props, prop{p + "Parent", l.Parent})
		}
	}
	cp := 1252
	if unicode {
		cp = 1200
	}
	// Section 0: the document summary set, with only its code page.
	var s0 le
	s0.u32(24)
	s0.u32(1)
	s0.u32(1)
	s0.u32(16)
	s0.u16(2)
	s0.u16(0)
	s0.u16(cp)
	s0.u16(0)
	// Section 1: code page, dictionary, then each property's value; pids from 2.
	var dict le
	dict.u32(len(props))
	for i, p := range props {
		dict.u32(i + 2)
		dict.u32(strLen(p.name, unicode))
		dict.str(p.name, unicode)
		if unicode {
			dict.pad4()
		}
	}
	dict.pad4()
	var vals []le
	for _, p := range props {
		var v le
		if unicode {
			v.u16(0x1F) // VT_LPWSTR
			v.u16(0)
			v.u32(strLen(p.value, true))
			v.str(p.value, true)
		} else {
			v.u16(0x1E) // VT_LPSTR: size in bytes
			v.u16(0)
			v.u32(strLen(p.value, false))
			v.str(p.value, false)
		}
		v.pad4()
		vals = append(vals, v)
	}
	n := len(props) + 2
	headLen := 8 + 8*n
	var cpv le
	cpv.u16(2)
	cpv.u16(0)
	cpv.u16(cp)
	cpv.u16(0)
	off := headLen
	var head, body le
	head.u32(0) // size, patched
	head.u32(n)
	head.u32(1)
	head.u32(off)
	body = append(body, cpv...)
	off += len(cpv)
	head.u32(0)
	head.u32(off)
	body = append(body, dict...)
	off += len(dict)
	for i, v := range vals {
		head.u32(i + 2)
		head.u32(off)
		body = append(body, v...)
		off += len(v)
	}
	s1 := append(head, body...)
	binary.LittleEndian.PutUint32(s1, uint32(len(s1)))

	var out le
	out.u16(0xFFFE)
	out.u16(0)
	out.u32(0x0002000A) // SystemIdentifier: Windows, OS version 10.0
	out = append(out, make([]byte, 16)...)
	out.u32(2)
	out = append(out, fmtidDocSummary...)
	out.u32(28 + 40)
	out = append(out, fmtidUser...)
	out.u32(28 + 40 + len(s0))
	out = append(out, s0...)
	out = append(out, s1...)
	return out
}

// LegacyOptions shapes a legacy binary (97-2003) Office file.
type LegacyOptions struct {
	Props    []Label // MSIP_Label_ user-defined properties in \005DocumentSummaryInformation
	Unicode  bool    // write the property set in code page 1200
	DRM      bool    // IRM-protected: the content in \tDRMContent behind a \006DataSpaces DRM transform
	Password bool    // password-encrypted: Word's FIB flag, Excel's FilePass, PowerPoint's EncryptedSummary
	Padding  int     // bytes of opaque content in the main stream (at most 6 MiB)
}

// Legacy builds a Word ("word"), Excel ("excel") or PowerPoint ("powerpoint") 97-2003 file: an
// OLE compound file with the application's main stream and the summary information streams.
func Legacy(family string, o LegacyOptions) []byte {
	body := Padding(min(max(o.Padding, 4096), 6<<20), 21)
	var main string
	switch family {
	case "word":
		main = "WordDocument"
		// [MS-DOC] FibBase: wIdent 0xA5EC, nFib 0x00C1, ...; flags at 0x0A (fEncrypted 0x0100).
		fib := make([]byte, 32)
		binary.LittleEndian.PutUint16(fib, 0xA5EC)
		binary.LittleEndian.PutUint16(fib[2:], 0x00C1)
		if o.Password {
			binary.LittleEndian.PutUint16(fib[10:], 0x0100)
		}
		body = append(fib, body...)
	case "excel":
		main = "Workbook"
		// BOF (0x0809, 16 bytes), then FilePass (0x002F) when encrypted.
		rec := le{}
		rec.u16(0x0809)
		rec.u16(16)
		rec = append(rec, 0x00, 0x06, 0x05, 0x00)
		rec = append(rec, make([]byte, 12)...)
		if o.Password {
			rec.u16(0x002F)
			rec.u16(4)
			rec = append(rec, 1, 0, 1, 0)
		}
		body = append(rec, body...)
	default:
		main = "PowerPoint Document"
	}
	streams := []cfb.Stream{
		{Path: main, Data: body},
		{Path: "\x05SummaryInformation", Data: summaryInfo()},
	}
	if family == "powerpoint" && o.Password {
		streams = append(streams, cfb.Stream{Path: "EncryptedSummary", Data: Padding(512, 22)})
	}
	if o.DRM {
		streams = append(streams, drmDataSpaces("\tDRMContent", "\tDRMDataSpace", "\tDRMTransform")...)
		streams = append(streams, cfb.Stream{Path: "\tDRMContent", Data: Padding(8192, 23)})
	}
	if len(o.Props) > 0 || o.Unicode {
		streams = append(streams, cfb.Stream{Path: "\x05DocumentSummaryInformation", Data: DocSummaryInfo(o.Props, o.Unicode)})
	}
	out, _ := cfb.Build(streams) // cannot fail: the sizes above stay under its limit
	return out
}

// summaryInfo is a minimal \005SummaryInformation: one property set with its code page.
func summaryInfo() []byte {
	var b le
	b.u16(0xFFFE)
	b.u16(0)
	b.u32(0x0002000A)
	b = append(b, make([]byte, 16)...)
	b.u32(1)
	b = append(b, 0xE0, 0x85, 0x9F, 0xF2, 0xF9, 0x4F, 0x68, 0x10, 0xAB, 0x91, 0x08, 0x00, 0x2B, 0x27, 0xB3, 0xD9)
	b.u32(48)
	b.u32(24)
	b.u32(1)
	b.u32(1)
	b.u32(16)
	b.u16(2)
	b.u16(0)
	b.u16(1252)
	b.u16(0)
	return b
}

// drmDataSpaces returns the \006DataSpaces storage mapping content to a rights-management data
// space ([MS-OFFCRYPTO] 2.1.6-2.1.8): Version, DataSpaceMap, DataSpaceInfo and TransformInfo.
func drmDataSpaces(content, space, transform string) []cfb.Stream {
	var m le
	lp := func(s string) {
		m.u32(2 * len(s))
		for _, c := range s {
			m.u16(int(c))
		}
		m.pad4()
	}
	m.u32(8)
	m.u32(1)
	entryStart := len(m)
	m.u32(0) // entry length, patched below
	m.u32(1)
	m.u32(0)
	lp(content)
	lp(space)
	binary.LittleEndian.PutUint32(m[entryStart:], uint32(len(m)-entryStart))
	return []cfb.Stream{
		{Path: "\x06DataSpaces/Version", Data: []byte("<\x00\x00\x00M\x00i\x00c\x00r\x00o\x00s\x00o\x00f\x00t\x00.\x00C\x00o\x00n\x00t\x00a\x00i\x00n\x00e\x00r\x00.\x00D\x00a\x00t\x00a\x00S\x00p\x00a\x00c\x00e\x00s\x00\x01\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00")},
		{Path: "\x06DataSpaces/DataSpaceMap", Data: m},
		{Path: "\x06DataSpaces/DataSpaceInfo/" + space, Data: []byte("\x08\x00\x00\x00\x01\x00\x00\x00")},
		{Path: "\x06DataSpaces/TransformInfo/" + transform + "/\x06Primary", Data: []byte(transform)},
	}
}

// ProtectedOptions shapes an encrypted OOXML container (an OLE compound file holding
// EncryptedPackage).
type ProtectedOptions struct {
	Kind      string  // "rms" (DRMEncryptedDataSpace) or "password" (StrongEncryptionDataSpace)
	LabelInfo []Label // the LabelInfo stream under \006DataSpaces\TransformInfo
	Props     []Label // MSIP_Label_ user-defined properties in \005DocumentSummaryInformation
	Padding   int     // size of the opaque EncryptedPackage stream (at most 6 MiB)
}

// PFile builds an RMS protected file (version 2.1, the layout AzureAD/rms-sdk-for-cpp writes):
// preamble, versions, a cleartext note, the header, the wrapped file's extension, a publishing
// licence and metadata, then opaque content.
func PFile(ext string, content int) []byte {
	const note = "This file is protected by Microsoft Rights Management. Open it with a rights-management client."
	pl := []byte("\xef\xbb\xbf<XrML version=\"1.2\"><BODY type=\"Microsoft Rights Label\"></BODY></XrML>")
	meta := []byte{}
	var b le
	b = append(b, ".pfile"...)
	b.u32(2)
	b.u32(1)
	b.u32(len(note))
	b = append(b, note...)
	headerStart := len(b)
	extOff := headerStart + 40
	plOff := extOff + len(ext)
	metaOff := plOff + len(pl)
	contentOff := metaOff + len(meta)
	b.u32(40)
	b.u32(extOff)
	b.u32(len(ext))
	b.u32(plOff)
	b.u32(len(pl))
	b.u32(contentOff)
	b = binary.LittleEndian.AppendUint64(b, uint64(content))
	b.u32(metaOff)
	b.u32(len(meta))
	b = append(b, ext...)
	b = append(b, pl...)
	b = append(b, meta...)
	b = append(b, Padding(content, 31)...)
	return b
}

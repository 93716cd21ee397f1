// Package pfile reads the cleartext header of an RMS "protected file" (pfile): the generic
// protection the RMS/AIP clients apply to files that have no protection format of their own
// (.pfile, .ptxt, .ppdf, .pjpg and kin). It is not an OLE compound file.
//
// The layout, as AzureAD/rms-sdk-for-cpp (MIT) reads and writes it in
// sdk/rms_sdk/PFile/PfileHeaderReader.cpp and PfileHeaderWriter.cpp (facts only, no code taken),
// all integers little-endian:
//
//	preamble      6 bytes ".pfile"
//	major, minor  uint32, uint32 (each below 256; readers accept major 2 and 3)
//	redirect      uint32 length + that many bytes: a cleartext "this file is protected" note
//	header        uint32 headerSize, extensionOffset, extensionLength, plOffset, plLength,
//	              contentOffset; from version 2.1 on also uint64 originalFileSize, uint32
//	              metadataOffset, metadataLength (headerSize = 40)
//	then the wrapped file's extension (".txt"), the publishing licence (XrML) and the metadata,
//	each at its offset, and the encrypted content from contentOffset.
package pfile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Magic is the first six bytes of every pfile.
var Magic = []byte(".pfile")

// ErrMalformed marks a file that starts like a pfile but whose header does not hold together.
var ErrMalformed = errors.New("malformed pfile header")

const (
	maxRedirect  = 64 << 10 // the cleartext note is a sentence or a small HTML page
	maxExtension = 256
	// HeadLen is what Read fetches first: the fixed fields, a typical redirect note and the
	// extension all fit.
	HeadLen = 4 << 10
)

// Header is what the cleartext header tells.
type Header struct {
	Major, Minor     uint32
	Redirect         string // the cleartext redirection note
	Extension        string // the wrapped file's extension, e.g. ".txt"
	PLOffset, PLLen  uint32 // the publishing licence
	ContentOffset    uint32
	OriginalSize     uint64 // 0 before version 2.1
	MetaOffset, Meta uint32 // metadata offset and length (version 2.1 on)
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// Read parses the header of the size-byte pfile in r with at most two reads: the head, and
// the extension when a long redirect note pushed it out of the head.
func Read(r io.ReaderAt, size int64) (Header, error) {
	head := make([]byte, min(size, HeadLen))
	n, err := r.ReadAt(head, 0)
	if n < len(head) && err != nil && !errors.Is(err, io.EOF) {
		return Header{}, fmt.Errorf("pfile: read header: %w", err)
	}
	h, extOK, err := Parse(head[:n], size)
	if err != nil || extOK || h.Extension != "" {
		return h, err
	}
	ext, err := readExt(r, size, head[:n])
	if err != nil {
		return h, err
	}
	h.Extension = ext
	return h, nil
}

// Parse reads the header from the file's first bytes; size is the whole file's. extOK is false
// when the extension lies beyond b (Read then fetches it).
func Parse(b []byte, size int64) (h Header, extOK bool, err error) {
	if len(b) < len(Magic) || string(b[:len(Magic)]) != string(Magic) {
		return h, false, malformed("no .pfile preamble")
	}
	p := len(Magic)
	u32 := func(what string) (uint32, error) {
		if p+4 > len(b) {
			return 0, malformed("%s is past the header's %d bytes", what, len(b))
		}
		v := binary.LittleEndian.Uint32(b[p:])
		p += 4
		return v, nil
	}
	if h.Major, err = u32("major version"); err != nil {
		return h, false, err
	}
	if h.Minor, err = u32("minor version"); err != nil {
		return h, false, err
	}
	if h.Major >= 256 || h.Minor >= 256 {
		return h, false, malformed("version %d.%d", h.Major, h.Minor)
	}
	if h.Major < 2 || h.Major > 3 {
		return h, false, malformed("unsupported version %d.%d", h.Major, h.Minor)
	}
	rl, err := u32("redirect length")
	if err != nil {
		return h, false, err
	}
	if rl > maxRedirect || int64(p)+int64(rl) > size {
		return h, false, malformed("redirect note of %d bytes", rl)
	}
	if p+int(rl) > len(b) {
		return h, false, malformed("redirect note of %d bytes is longer than the %d-byte head", rl, len(b))
	}
	h.Redirect = string(b[p : p+int(rl)])
	p += int(rl)
	var headerSize, extOff, extLen uint32
	for _, f := range []struct {
		v    *uint32
		name string
	}{{&headerSize, "header size"}, {&extOff, "extension offset"}, {&extLen, "extension length"},
		{&h.PLOffset, "licence offset"}, {&h.PLLen, "licence length"}, {&h.ContentOffset, "content offset"}} {
		if *f.v, err = u32(f.name); err != nil {
			return h, false, err
		}
	}
	end := int64(h.PLOffset) + int64(h.PLLen)
	if h.Major > 2 || h.Minor >= 1 {
		if p+16 > len(b) {
			return h, false, malformed("version %d.%d header is past the head", h.Major, h.Minor)
		}
		h.OriginalSize = binary.LittleEndian.Uint64(b[p:])
		h.MetaOffset, h.Meta = binary.LittleEndian.Uint32(b[p+8:]), binary.LittleEndian.Uint32(b[p+12:])
		end = int64(h.MetaOffset) + int64(h.Meta)
	}
	switch {
	case int64(h.PLOffset)+int64(h.PLLen) > size:
		return h, false, malformed("publishing licence [%d, +%d) is past the %d-byte file", h.PLOffset, h.PLLen, size)
	case end > size:
		return h, false, malformed("metadata [%d, +%d) is past the %d-byte file", h.MetaOffset, h.Meta, size)
	case int64(h.ContentOffset) < end || int64(h.ContentOffset) > size:
		return h, false, malformed("content offset %d before the header's end %d or past the file", h.ContentOffset, end)
	case extLen > maxExtension || int64(extOff)+int64(extLen) > size:
		return h, false, malformed("extension [%d, +%d)", extOff, extLen)
	}
	if int(extOff)+int(extLen) > len(b) {
		return h, false, nil
	}
	h.Extension = cleanExt(b[extOff : extOff+extLen])
	return h, true, nil
}

func readExt(r io.ReaderAt, size int64, head []byte) (string, error) {
	// Parse validated the fields; read them again to locate the extension.
	p := len(Magic) + 8
	rl := int(binary.LittleEndian.Uint32(head[p:]))
	p += 4 + rl + 4
	extOff, extLen := int64(binary.LittleEndian.Uint32(head[p:])), int64(binary.LittleEndian.Uint32(head[p+4:]))
	buf := make([]byte, extLen)
	if _, err := r.ReadAt(buf, extOff); err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("pfile: read extension: %w", err)
	}
	return cleanExt(buf), nil
}

// cleanExt keeps the extension's printable ASCII (the RMS SDK writes it as bytes).
func cleanExt(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		if c > 0x20 && c < 0x7F {
			sb.WriteByte(c)
		}
	}
	return strings.ToLower(sb.String())
}

package labeling

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// The label parts of an Office package (_rels/.rels, docProps/custom.xml, LabelInfo.xml) are
// small, machine-written XML, and encoding/xml's reflection and namespace handling were over
// 40 % of a local scan's CPU time (issue 21: `labelgate scan` against a plain read of the same
// tree). fastParts reads them with a scanner for the plain subset Office writes: one optional
// <?xml?> declaration, elements, attributes in quotes, text with the five predefined entities
// and character references, nothing else. Anything outside that subset (comments, CDATA, a
// DOCTYPE, other processing instructions, a carriage return, a name it does not know how to
// split, a character XML forbids) makes it answer "not sure", and the caller parses with
// encoding/xml as before. A differential test and fuzz target hold the two to the same answer
// wherever the scanner answers.

// xmlChild is one direct child of the root element with the given local name: its attributes
// by local name (the last one wins, as with encoding/xml) and the character data directly
// inside its first child element.
type xmlChild struct {
	attrs      map[string]string
	firstText  string
	hasElement bool
}

// fastChildren scans data. root is the root element's required local name; child the local
// name of the root's children to collect. ok is false when data is outside the subset or its
// root is another element, so the caller must parse it with encoding/xml.
func fastChildren(data []byte, root, child string) (out []xmlChild, ok bool) {
	if !plainXMLText(data) {
		return nil, false
	}
	s := &xmlScan{b: data}
	if !s.prolog() {
		return nil, false
	}
	raw, name, _, self, good := s.startTag()
	if !good || name != root {
		return nil, false
	}
	if self {
		return []xmlChild{}, true
	}
	out = []xmlChild{}
	// open holds the names of the open elements as written: an end tag must close the last
	// one exactly (encoding/xml refuses a mismatch). len(open) is the depth: 1 inside the
	// root, 2 inside one of its children, 3 inside a grandchild.
	open := [][]byte{raw}
	var cur *xmlChild
	firstOpen := false // directly inside cur's first child element
	var text strings.Builder
	for {
		if s.i >= len(s.b) {
			return nil, false // unexpected EOF, as encoding/xml says
		}
		if s.b[s.i] != '<' {
			t, good := s.text()
			if !good {
				return nil, false
			}
			if firstOpen && len(open) == 3 {
				text.WriteString(t)
			}
			continue
		}
		if s.i+1 < len(s.b) && s.b[s.i+1] == '/' {
			raw, good := s.endTag()
			if !good || !bytes.Equal(raw, open[len(open)-1]) {
				return nil, false
			}
			if firstOpen && len(open) == 3 {
				cur.firstText, firstOpen = text.String(), false
			}
			open = open[:len(open)-1]
			switch len(open) {
			case 0:
				return out, true // what follows the root is not read, as with Unmarshal
			case 1:
				cur = nil
			}
			continue
		}
		raw, name, attrs, self, good := s.startTag()
		if !good || len(open) > 64 {
			return nil, false
		}
		switch {
		case len(open) == 1 && name == child:
			out = append(out, xmlChild{attrs: attrs})
			cur = &out[len(out)-1]
		case len(open) == 2 && cur != nil && !cur.hasElement:
			cur.hasElement = true
			if !self {
				firstOpen = true
				text.Reset()
			}
		}
		if !self {
			open = append(open, raw)
		}
	}
}

// plainXMLText says every byte of data may appear in the subset: no control characters but
// tab, newline and carriage return (Office ends its declaration with CRLF; a carriage return
// inside text or an attribute value, which XML parsers normalise, is refused by unescape), and
// valid UTF-8 of characters XML allows.
func plainXMLText(data []byte) bool {
	for i := 0; i < len(data); {
		c := data[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError || r == 0xFEFF || (r >= 0xFFFE && r <= 0xFFFF) {
			return false
		}
		i += n
	}
	return true
}

type xmlScan struct {
	b []byte
	i int
}

func (s *xmlScan) space() {
	for s.i < len(s.b) && (s.b[s.i] == ' ' || s.b[s.i] == '\t' || s.b[s.i] == '\n' || s.b[s.i] == '\r') {
		s.i++
	}
}

// prolog skips an optional UTF-8 XML declaration and whitespace, up to the root's '<'.
func (s *xmlScan) prolog() bool {
	s.space()
	if bytes.HasPrefix(s.b[s.i:], []byte("<?xml ")) {
		end := bytes.Index(s.b[s.i:], []byte("?>"))
		if end < 0 {
			return false
		}
		decl := s.b[s.i : s.i+end]
		if enc := bytes.Index(decl, []byte("encoding=")); enc >= 0 {
			v := decl[enc+len("encoding="):]
			if !bytes.HasPrefix(v, []byte(`"UTF-8"`)) && !bytes.HasPrefix(v, []byte(`"utf-8"`)) &&
				!bytes.HasPrefix(v, []byte(`'UTF-8'`)) && !bytes.HasPrefix(v, []byte(`'utf-8'`)) {
				return false
			}
		}
		if v := bytes.Index(decl, []byte("version=")); v >= 0 {
			if rest := decl[v+len("version="):]; !bytes.HasPrefix(rest, []byte(`"1.0"`)) && !bytes.HasPrefix(rest, []byte(`'1.0'`)) {
				return false
			}
		}
		if bytes.ContainsAny(decl[2:], "<>&") {
			return false
		}
		s.i += end + 2
		s.space()
	}
	return s.i+1 < len(s.b) && s.b[s.i] == '<' && isNameStart(s.b[s.i+1])
}

func isNameStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

func isNameByte(c byte) bool {
	return isNameStart(c) || c >= '0' && c <= '9' || c == '-' || c == '.'
}

// name reads a name of ASCII letters, digits, '_', '-', '.', with at most one ':' between
// two non-empty parts, and returns it whole and its local part.
func (s *xmlScan) name() (raw []byte, local string, ok bool) {
	start, colon := s.i, -1
	if s.i >= len(s.b) || !isNameStart(s.b[s.i]) {
		return nil, "", false
	}
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case isNameByte(c):
		case c == ':' && colon < 0 && s.i+1 < len(s.b) && isNameStart(s.b[s.i+1]):
			colon = s.i
		default:
			raw = s.b[start:s.i]
			if colon >= 0 {
				return raw, string(s.b[colon+1 : s.i]), true
			}
			return raw, string(raw), true
		}
		s.i++
	}
	return nil, "", false
}

// startTag reads <name attr="v" ...> or <name .../>; raw is the name as written.
func (s *xmlScan) startTag() (raw []byte, name string, attrs map[string]string, self, ok bool) {
	s.i++ // '<'
	if raw, name, ok = s.name(); !ok {
		return
	}
	for {
		before := s.i
		s.space()
		if s.i >= len(s.b) {
			return raw, name, nil, false, false
		}
		switch s.b[s.i] {
		case '>':
			s.i++
			return raw, name, attrs, false, true
		case '/':
			if s.i+1 < len(s.b) && s.b[s.i+1] == '>' {
				s.i += 2
				return raw, name, attrs, true, true
			}
			return raw, name, nil, false, false
		}
		if s.i == before { // attributes must be separated from the name and each other
			return raw, name, nil, false, false
		}
		_, an, good := s.name()
		if !good {
			return raw, name, nil, false, false
		}
		s.space()
		if s.i >= len(s.b) || s.b[s.i] != '=' {
			return raw, name, nil, false, false
		}
		s.i++
		s.space()
		if s.i >= len(s.b) || (s.b[s.i] != '"' && s.b[s.i] != '\'') {
			return raw, name, nil, false, false
		}
		q := s.b[s.i]
		s.i++
		end := bytes.IndexByte(s.b[s.i:], q)
		if end < 0 {
			return raw, name, nil, false, false
		}
		raw := s.b[s.i : s.i+end]
		if bytes.IndexByte(raw, '<') >= 0 {
			return raw, name, nil, false, false
		}
		v, good := unescape(raw)
		if !good {
			return raw, name, nil, false, false
		}
		s.i += end + 1
		if attrs == nil {
			attrs = map[string]string{}
		}
		attrs[an] = v
	}
}

// endTag reads </name> and returns the name as written.
func (s *xmlScan) endTag() ([]byte, bool) {
	s.i += 2
	raw, _, ok := s.name()
	if !ok {
		return nil, false
	}
	s.space()
	if s.i >= len(s.b) || s.b[s.i] != '>' {
		return nil, false
	}
	s.i++
	return raw, true
}

// text reads character data up to the next '<'.
func (s *xmlScan) text() (string, bool) {
	end := bytes.IndexByte(s.b[s.i:], '<')
	if end < 0 {
		return "", false
	}
	raw := s.b[s.i : s.i+end]
	s.i += end
	if bytes.Contains(raw, []byte("]]>")) {
		return "", false
	}
	return unescape(raw)
}

// unescape decodes the five predefined entities and decimal or hexadecimal character
// references to characters XML allows; any other '&', and a carriage return, is outside the
// subset.
func unescape(raw []byte) (string, bool) {
	if bytes.IndexByte(raw, '\r') >= 0 {
		return "", false // XML parsers turn CRLF and CR into LF: left to encoding/xml
	}
	amp := bytes.IndexByte(raw, '&')
	if amp < 0 {
		return string(raw), true
	}
	var b strings.Builder
	b.Grow(len(raw))
	for amp >= 0 {
		b.Write(raw[:amp])
		raw = raw[amp:]
		semi := bytes.IndexByte(raw, ';')
		if semi < 0 || semi > 12 {
			return "", false
		}
		ent := string(raw[1:semi])
		switch ent {
		case "lt":
			b.WriteByte('<')
		case "gt":
			b.WriteByte('>')
		case "amp":
			b.WriteByte('&')
		case "apos":
			b.WriteByte('\'')
		case "quot":
			b.WriteByte('"')
		default:
			r, ok := charRef(ent)
			if !ok {
				return "", false
			}
			b.WriteRune(r)
		}
		raw = raw[semi+1:]
		amp = bytes.IndexByte(raw, '&')
	}
	b.Write(raw)
	return b.String(), true
}

// charRef decodes "#123" or "#x7B" to a character XML allows (a carriage return, which
// encoding/xml keeps from a reference, is left to it too).
func charRef(ent string) (rune, bool) {
	if len(ent) < 2 || ent[0] != '#' {
		return 0, false
	}
	base, digits := 10, ent[1:]
	if digits[0] == 'x' {
		base, digits = 16, digits[1:]
	}
	if digits == "" || len(digits) > 6 {
		return 0, false
	}
	var r rune
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		var d rune
		switch {
		case c >= '0' && c <= '9':
			d = rune(c - '0')
		case base == 16 && c >= 'a' && c <= 'f':
			d = rune(c-'a') + 10
		case base == 16 && c >= 'A' && c <= 'F':
			d = rune(c-'A') + 10
		default:
			return 0, false
		}
		r = r*rune(base) + d
	}
	ok := r == 0x09 || r == 0x0A || r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
	return r, ok
}

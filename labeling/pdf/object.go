// Package pdf reads a PDF's trailer, cross-reference sections, document information dictionary
// and XMP metadata with bounded reads, and appends incremental updates that rewrite them.
package pdf

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
)

// ErrMalformed marks a structurally broken PDF.
var ErrMalformed = errors.New("malformed pdf")

// errShort means the buffer ended mid-object; the caller reads more and retries.
var errShort = errors.New("pdf: object runs past the buffer")

const (
	maxDepth  = 32
	maxTokens = 200_000
)

// Object kinds. A PDF object is one of these Go types:
// nil (null), bool, int64, float64, Name, String, []Object, Dict, Ref, *Stream.
type (
	Object any
	Name   string
	String []byte
	Dict   map[Name]Object
	Ref    struct{ Num, Gen int64 }
	Stream struct {
		Dict    Dict
		DataOff int64 // absolute file offset of the stream data
	}
)

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// Text decodes a PDF text string: UTF-16BE with BOM, UTF-8 with BOM, else PDFDocEncoding (read
// as Latin-1, which agrees for every character labels use).
func (s String) Text() string {
	b := []byte(s)
	switch {
	case len(b) >= 2 && b[0] == 0xFE && b[1] == 0xFF:
		u := make([]uint16, 0, len(b)/2)
		for i := 2; i+1 < len(b); i += 2 {
			u = append(u, uint16(b[i])<<8|uint16(b[i+1]))
		}
		return string(utf16.Decode(u))
	case len(b) >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF:
		return string(b[3:])
	}
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

type lexer struct {
	b      []byte
	pos    int
	tokens int
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == 0
}

func isDelim(c byte) bool {
	switch c {
	case '(', ')', '<', '>', '[', ']', '{', '}', '/', '%':
		return true
	}
	return false
}

func (l *lexer) skipSpace() {
	for l.pos < len(l.b) {
		c := l.b[l.pos]
		if isSpace(c) {
			l.pos++
			continue
		}
		if c == '%' {
			for l.pos < len(l.b) && l.b[l.pos] != '\n' && l.b[l.pos] != '\r' {
				l.pos++
			}
			continue
		}
		return
	}
}

// keyword reads a bare word (number, true, R, obj, stream…).
func (l *lexer) keyword() []byte {
	start := l.pos
	for l.pos < len(l.b) && !isSpace(l.b[l.pos]) && !isDelim(l.b[l.pos]) {
		l.pos++
	}
	return l.b[start:l.pos]
}

func (l *lexer) peekKeyword() []byte {
	save := l.pos
	l.skipSpace()
	k := l.keyword()
	l.pos = save
	return k
}

// object parses one direct object, recognising "n g R" references.
func (l *lexer) object(depth int) (Object, error) {
	if depth > maxDepth {
		return nil, malformed("objects nested deeper than %d", maxDepth)
	}
	if l.tokens++; l.tokens > maxTokens {
		return nil, malformed("more than %d tokens in one object", maxTokens)
	}
	l.skipSpace()
	if l.pos >= len(l.b) {
		return nil, errShort
	}
	switch c := l.b[l.pos]; c {
	case '/':
		return l.name()
	case '(':
		return l.literal()
	case '<':
		if l.pos+1 >= len(l.b) {
			return nil, errShort
		}
		if l.b[l.pos+1] == '<' {
			return l.dict(depth)
		}
		return l.hex()
	case '[':
		l.pos++
		var arr []Object
		for {
			l.skipSpace()
			if l.pos >= len(l.b) {
				return nil, errShort
			}
			if l.b[l.pos] == ']' {
				l.pos++
				return arr, nil
			}
			o, err := l.object(depth + 1)
			if err != nil {
				return nil, err
			}
			arr = append(arr, o)
		}
	case ')', '>', ']', '{', '}':
		return nil, malformed("unexpected %q at %d", c, l.pos)
	}
	start := l.pos
	k := l.keyword()
	if l.pos >= len(l.b) {
		return nil, errShort // a number may continue in the next chunk
	}
	switch string(k) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	case "null":
		return nil, nil
	}
	if i, err := strconv.ParseInt(string(k), 10, 64); err == nil {
		// Look ahead for "gen R".
		save := l.pos
		l.skipSpace()
		g := l.keyword()
		if gen, err := strconv.ParseInt(string(g), 10, 64); err == nil && gen >= 0 && i >= 0 {
			l.skipSpace()
			if l.pos >= len(l.b) {
				return nil, errShort
			}
			if r := l.keyword(); string(r) == "R" {
				return Ref{Num: i, Gen: gen}, nil
			}
		}
		if l.pos >= len(l.b) {
			return nil, errShort
		}
		l.pos = save
		return i, nil
	}
	if f, err := strconv.ParseFloat(string(k), 64); err == nil {
		return f, nil
	}
	return nil, malformed("unexpected token %q at %d", k, start)
}

func (l *lexer) name() (Name, error) {
	l.pos++
	start := l.pos
	for l.pos < len(l.b) && !isSpace(l.b[l.pos]) && !isDelim(l.b[l.pos]) {
		l.pos++
	}
	if l.pos >= len(l.b) {
		return "", errShort
	}
	raw := l.b[start:l.pos]
	if bytes.IndexByte(raw, '#') < 0 {
		return Name(raw), nil
	}
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		if raw[i] == '#' && i+2 < len(raw) {
			if v, err := strconv.ParseUint(string(raw[i+1:i+3]), 16, 8); err == nil {
				out = append(out, byte(v))
				i += 2
				continue
			}
		}
		out = append(out, raw[i])
	}
	return Name(out), nil
}

func (l *lexer) literal() (String, error) {
	l.pos++
	var out []byte
	depth := 1
	for l.pos < len(l.b) {
		c := l.b[l.pos]
		l.pos++
		switch c {
		case '(':
			depth++
		case ')':
			if depth--; depth == 0 {
				return out, nil
			}
		case '\\':
			if l.pos >= len(l.b) {
				return nil, errShort
			}
			e := l.b[l.pos]
			l.pos++
			switch e {
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			case 'b':
				c = '\b'
			case 'f':
				c = '\f'
			case '\r':
				if l.pos < len(l.b) && l.b[l.pos] == '\n' {
					l.pos++
				}
				continue
			case '\n':
				continue
			default:
				if e >= '0' && e <= '7' {
					v := int(e - '0')
					for k := 0; k < 2 && l.pos < len(l.b) && l.b[l.pos] >= '0' && l.b[l.pos] <= '7'; k++ {
						v = v*8 + int(l.b[l.pos]-'0')
						l.pos++
					}
					c = byte(v)
				} else {
					c = e
				}
			}
		}
		out = append(out, c)
	}
	return nil, errShort
}

func (l *lexer) hex() (String, error) {
	l.pos++
	var out []byte
	var hi int = -1
	for l.pos < len(l.b) {
		c := l.b[l.pos]
		l.pos++
		var v int
		switch {
		case c == '>':
			if hi >= 0 {
				out = append(out, byte(hi<<4))
			}
			return out, nil
		case isSpace(c):
			continue
		case c >= '0' && c <= '9':
			v = int(c - '0')
		case c >= 'a' && c <= 'f':
			v = int(c-'a') + 10
		case c >= 'A' && c <= 'F':
			v = int(c-'A') + 10
		default:
			return nil, malformed("bad hex string byte %q", c)
		}
		if hi < 0 {
			hi = v
		} else {
			out = append(out, byte(hi<<4|v))
			hi = -1
		}
	}
	return nil, errShort
}

func (l *lexer) dict(depth int) (Dict, error) {
	l.pos += 2
	d := Dict{}
	for {
		l.skipSpace()
		if l.pos+1 >= len(l.b) {
			return nil, errShort
		}
		if l.b[l.pos] == '>' && l.b[l.pos+1] == '>' {
			l.pos += 2
			return d, nil
		}
		if l.b[l.pos] != '/' {
			return nil, malformed("dictionary key expected at %d", l.pos)
		}
		k, err := l.name()
		if err != nil {
			return nil, err
		}
		v, err := l.object(depth + 1)
		if err != nil {
			return nil, err
		}
		d[k] = v
	}
}

// indirect parses "num gen obj <object> [stream]" starting at the lexer position; base is the
// absolute file offset of l.b[0], used to locate stream data.
func (l *lexer) indirect(base int64) (Ref, Object, error) {
	var ref Ref
	l.skipSpace()
	n, err := strconv.ParseInt(string(l.keyword()), 10, 64)
	if err != nil {
		if l.pos >= len(l.b) {
			return ref, nil, errShort
		}
		return ref, nil, malformed("object number expected at %d", base+int64(l.pos))
	}
	l.skipSpace()
	g, err := strconv.ParseInt(string(l.keyword()), 10, 64)
	if err != nil {
		return ref, nil, malformed("generation expected at %d", base+int64(l.pos))
	}
	l.skipSpace()
	if kw := l.keyword(); string(kw) != "obj" {
		if l.pos >= len(l.b) {
			return ref, nil, errShort
		}
		return ref, nil, malformed("\"obj\" expected at %d", base+int64(l.pos))
	}
	ref = Ref{Num: n, Gen: g}
	o, err := l.object(0)
	if err != nil {
		return ref, nil, err
	}
	d, ok := o.(Dict)
	if !ok {
		return ref, o, nil
	}
	if kw := l.peekKeyword(); string(kw) != "stream" {
		if len(kw) == 0 && l.pos+16 >= len(l.b) {
			return ref, nil, errShort
		}
		return ref, d, nil
	}
	l.skipSpace()
	l.pos += len("stream")
	if l.pos < len(l.b) && l.b[l.pos] == '\r' {
		l.pos++
	}
	if l.pos >= len(l.b) {
		return ref, nil, errShort
	}
	if l.b[l.pos] == '\n' {
		l.pos++
	}
	return ref, &Stream{Dict: d, DataOff: base + int64(l.pos)}, nil
}

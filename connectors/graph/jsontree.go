package graph

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	absser "github.com/microsoft/kiota-abstractions-go/serialization"
	kjson "github.com/microsoft/kiota-serialization-json-go"
)

// jsonTreeFactory is kiota's JSON parse-node factory with a faster first step. Kiota turns a
// response into a tree of its own JsonParseNodes by pulling every token from encoding/json's
// Decoder.Token (after a json.Valid pass over the whole body); the SDK's models are then filled
// from that tree by kiota's own GetObjectValue. Profiled on a full rescan with nothing changed,
// building the tree was 45 % of the CPU of every Graph call (delta pages and permission lists;
// 3.7 of 8.1 s at 50,000 Graph files) and Token's allocations a good part of the collector's
// work. This factory builds the same tree in one pass over the bytes and hands kiota the same
// JsonParseNode values (through its exported SetValue), so everything after the tree — field
// assignment, additional data, untyped nodes, backing stores — is still kiota's code.
//
// The tree is kiota-serialization-json-go v1.1.2's, value for value: objects are
// map[string]*JsonParseNode (a later duplicate key wins, a null member is a nil entry), arrays
// []*JsonParseNode (null elements nil), every number a *float64 (Decoder.Token without
// UseNumber; a number out of float64's range is an error, as Token's is), strings and bools
// pointers, and a top-level null a nil node. Input json.Valid refuses is refused with kiota's
// message. FuzzJSONTree holds the two loaders to the same tree or the same refusal on any input.
type jsonTreeFactory struct{}

var _ absser.ParseNodeFactory = jsonTreeFactory{}

func (jsonTreeFactory) GetValidContentType() (string, error) { return "application/json", nil }

// GetRootParseNode checks the content type as kiota's JsonParseNodeFactory does.
func (f jsonTreeFactory) GetRootParseNode(contentType string, content []byte) (absser.ParseNode, error) {
	valid, _ := f.GetValidContentType()
	switch {
	case contentType == "":
		return nil, errors.New("contentType is empty")
	case contentType != valid:
		return nil, errors.New("contentType is not valid")
	}
	return loadJSONTree(content)
}

// maxJSONDepth is encoding/json's nesting limit, past which json.Valid (and so kiota) refuses.
const maxJSONDepth = 10000

// errInvalidJSON is kiota's refusal of content json.Valid rejects.
var errInvalidJSON = errors.New("invalid json type")

// loadJSONTree parses content into kiota's parse-node tree. It never panics on input, holds
// recursion to maxJSONDepth and allocates in proportion to the input.
func loadJSONTree(content []byte) (*kjson.JsonParseNode, error) {
	if len(content) == 0 {
		return nil, errors.New("content is empty")
	}
	p := jsonTree{b: content}
	p.space()
	n, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i != len(p.b) {
		return nil, errInvalidJSON
	}
	return n, nil
}

type jsonTree struct {
	b []byte
	i int
}

func (p *jsonTree) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func node(v any) *kjson.JsonParseNode {
	n := &kjson.JsonParseNode{}
	n.SetValue(v)
	return n
}

// value parses one JSON value at p.i; a null is a nil node, as kiota's loader returns.
func (p *jsonTree) value(depth int) (*kjson.JsonParseNode, error) {
	if p.i >= len(p.b) {
		return nil, errInvalidJSON
	}
	switch c := p.b[p.i]; {
	case c == '{':
		return p.object(depth + 1)
	case c == '[':
		return p.array(depth + 1)
	case c == '"':
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		return node(&s), nil
	case c == 't':
		return p.literal("true", true)
	case c == 'f':
		return p.literal("false", false)
	case c == 'n':
		if !p.word("null") {
			return nil, errInvalidJSON
		}
		return nil, nil
	case c == '-' || ('0' <= c && c <= '9'):
		return p.number()
	}
	return nil, errInvalidJSON
}

func (p *jsonTree) word(w string) bool {
	if len(p.b)-p.i < len(w) || string(p.b[p.i:p.i+len(w)]) != w {
		return false
	}
	p.i += len(w)
	return true
}

func (p *jsonTree) literal(w string, v bool) (*kjson.JsonParseNode, error) {
	if !p.word(w) {
		return nil, errInvalidJSON
	}
	return node(&v), nil
}

func (p *jsonTree) object(depth int) (*kjson.JsonParseNode, error) {
	if depth > maxJSONDepth {
		return nil, errInvalidJSON
	}
	m := make(map[string]*kjson.JsonParseNode)
	if p.empty('}') {
		return node(m), nil
	}
	for {
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return nil, errInvalidJSON
		}
		k, err := p.str()
		if err != nil {
			return nil, err
		}
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return nil, errInvalidJSON
		}
		p.i++
		p.space()
		v, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		m[k] = v
		more, err := p.more('}')
		if err != nil {
			return nil, err
		}
		if !more {
			return node(m), nil
		}
	}
}

func (p *jsonTree) array(depth int) (*kjson.JsonParseNode, error) {
	if depth > maxJSONDepth {
		return nil, errInvalidJSON
	}
	a := make([]*kjson.JsonParseNode, 0)
	if p.empty(']') {
		return node(a), nil
	}
	for {
		v, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		more, err := p.more(']')
		if err != nil {
			return nil, err
		}
		if !more {
			return node(a), nil
		}
	}
}

// empty consumes an object's or array's opening and the space after it, and its close if
// nothing comes between.
func (p *jsonTree) empty(close byte) bool {
	p.i++
	p.space()
	if p.i < len(p.b) && p.b[p.i] == close {
		p.i++
		return true
	}
	return false
}

// more consumes what follows a member or element: a comma and the space after it (more to
// come) or close (done).
func (p *jsonTree) more(close byte) (bool, error) {
	p.space()
	if p.i >= len(p.b) {
		return false, errInvalidJSON
	}
	switch p.b[p.i] {
	case ',':
		p.i++
		p.space()
		return true, nil
	case close:
		p.i++
		return false, nil
	}
	return false, errInvalidJSON
}

// str parses the string at p.i (its opening quote). A string without escapes that is valid
// UTF-8 is its bytes; any other is decoded by encoding/json itself, so escapes, surrogate
// pairs and invalid UTF-8 (each bad byte U+FFFD) come out exactly as Decoder.Token gives them.
func (p *jsonTree) str() (string, error) {
	start := p.i
	p.i++
	plain := true
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			raw := p.b[start+1 : p.i-1]
			if plain && utf8.Valid(raw) {
				return string(raw), nil
			}
			var s string
			if err := json.Unmarshal(p.b[start:p.i], &s); err != nil {
				return "", errInvalidJSON
			}
			return s, nil
		case c < 0x20:
			return "", errInvalidJSON
		case c == '\\':
			plain = false
			p.i++
			if p.i >= len(p.b) {
				return "", errInvalidJSON
			}
			switch p.b[p.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				p.i++
			case 'u':
				if len(p.b)-p.i < 5 {
					return "", errInvalidJSON
				}
				for _, h := range p.b[p.i+1 : p.i+5] {
					if !isHex(h) {
						return "", errInvalidJSON
					}
				}
				p.i += 5
			default:
				return "", errInvalidJSON
			}
		default:
			p.i++
		}
	}
	return "", errInvalidJSON
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// number parses JSON's number grammar and converts as encoding/json does for an interface
// value: strconv.ParseFloat, whose range error is an error.
func (p *jsonTree) number() (*kjson.JsonParseNode, error) {
	start := p.i
	if p.b[p.i] == '-' {
		p.i++
	}
	switch {
	case p.i < len(p.b) && p.b[p.i] == '0':
		p.i++
	case p.i < len(p.b) && '1' <= p.b[p.i] && p.b[p.i] <= '9':
		for p.i < len(p.b) && isDigit(p.b[p.i]) {
			p.i++
		}
	default:
		return nil, errInvalidJSON
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if p.i >= len(p.b) || !isDigit(p.b[p.i]) {
			return nil, errInvalidJSON
		}
		for p.i < len(p.b) && isDigit(p.b[p.i]) {
			p.i++
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if p.i >= len(p.b) || !isDigit(p.b[p.i]) {
			return nil, errInvalidJSON
		}
		for p.i < len(p.b) && isDigit(p.b[p.i]) {
			p.i++
		}
	}
	f, err := strconv.ParseFloat(string(p.b[start:p.i]), 64)
	if err != nil {
		return nil, fmt.Errorf("json: cannot unmarshal number %s into Go value of type float64", p.b[start:p.i])
	}
	return node(&f), nil
}

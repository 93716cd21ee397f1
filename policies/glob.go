package policies

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"
)

// checkGlob reports a malformed pattern: an unclosed or empty [class] or a trailing escape.
func checkGlob(p string) error {
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '\\':
			if i+1 >= len(p) {
				return errors.New("pattern ends in an escape")
			}
			i++
		case '[':
			j := i + 1
			if j < len(p) && (p[j] == '!' || p[j] == '^') {
				j++
			}
			if j < len(p) && p[j] == ']' {
				return errors.New("empty character class")
			}
			for j < len(p) && p[j] != ']' {
				j++
			}
			if j >= len(p) {
				return errors.New("unclosed character class")
			}
			i = j
		}
	}
	return nil
}

func eqRune(a, b rune, fold bool) bool {
	if a == b {
		return true
	}
	if !fold {
		return false
	}
	if a < utf8.RuneSelf && b < utf8.RuneSelf {
		return a|0x20 == b|0x20 && a|0x20 >= 'a' && a|0x20 <= 'z'
	}
	return unicode.ToLower(a) == unicode.ToLower(b)
}

// globMatch matches s against a checked pattern: * is any run without "/", ** any run,
// "**/" also zero folders, ? one character other than "/", [a-z] / [!a-z] a class, \x x.
// It does not allocate.
func globMatch(p, s string, fold bool) bool {
	for len(p) > 0 {
		switch p[0] {
		case '*':
			if len(p) > 1 && p[1] == '*' {
				p = p[2:]
				if len(p) > 0 && p[0] == '/' && globMatch(p[1:], s, fold) {
					return true
				}
				for i := 0; i <= len(s); i++ {
					if globMatch(p, s[i:], fold) {
						return true
					}
				}
				return false
			}
			p = p[1:]
			for i := 0; i <= len(s); i++ {
				if globMatch(p, s[i:], fold) {
					return true
				}
				if i < len(s) && s[i] == '/' {
					return false
				}
			}
			return false
		case '?':
			if s == "" || s[0] == '/' {
				return false
			}
			_, n := utf8.DecodeRuneInString(s)
			s, p = s[n:], p[1:]
		case '[':
			if s == "" {
				return false
			}
			r, n := utf8.DecodeRuneInString(s)
			ok, rest := matchClass(p[1:], r, fold)
			if !ok {
				return false
			}
			s, p = s[n:], rest
		default:
			if p[0] == '\\' && len(p) > 1 {
				p = p[1:]
			}
			if s == "" {
				return false
			}
			pr, pn := utf8.DecodeRuneInString(p)
			sr, sn := utf8.DecodeRuneInString(s)
			if !eqRune(pr, sr, fold) {
				return false
			}
			s, p = s[sn:], p[pn:]
		}
	}
	return s == ""
}

// matchClass matches r against the class starting after "[" and returns the pattern after "]".
func matchClass(p string, r rune, fold bool) (bool, string) {
	neg := false
	if len(p) > 0 && (p[0] == '!' || p[0] == '^') {
		neg, p = true, p[1:]
	}
	matched := false
	for first := true; len(p) > 0 && (first || p[0] != ']'); first = false {
		lo, n := utf8.DecodeRuneInString(p)
		p = p[n:]
		hi := lo
		if len(p) > 1 && p[0] == '-' && p[1] != ']' {
			hi, n = utf8.DecodeRuneInString(p[1:])
			p = p[1+n:]
		}
		if (lo <= r && r <= hi) || (fold && (lo <= unicode.ToLower(r) && unicode.ToLower(r) <= hi ||
			lo <= unicode.ToUpper(r) && unicode.ToUpper(r) <= hi)) {
			matched = true
		}
	}
	if len(p) > 0 {
		p = p[1:] // "]"
	}
	return matched != neg, p
}

// glob is a compiled pattern. Patterns made only of literals and single stars (the usual
// "*.docx", "*budget*") match by finding their pieces in order, in linear time.
type glob struct {
	pat    string
	pieces []string // lowercased literal pieces between stars; nil = use globMatch
	lead   bool     // starts with a star
	trail  bool     // ends with a star
}

func compileGlob(p string) glob {
	g := glob{pat: p}
	if p == "" || strings.ContainsAny(p, "?[\\/") || strings.Contains(p, "**") {
		return g
	}
	for i := 0; i < len(p); i++ {
		if p[i] >= utf8.RuneSelf {
			return g // non-ASCII folding goes the general way
		}
	}
	g.lead, g.trail = p[0] == '*', p[len(p)-1] == '*'
	for _, piece := range strings.Split(strings.ToLower(p), "*") {
		if piece != "" {
			g.pieces = append(g.pieces, piece)
		}
	}
	if g.pieces == nil {
		g.pieces = []string{}
	}
	return g
}

// match matches s; fold makes it case-insensitive (the simple form is only used folded).
func (g *glob) match(s string, fold bool) bool {
	if g.pieces == nil || !fold || strings.IndexByte(s, '/') >= 0 {
		return globMatch(g.pat, s, fold)
	}
	ps := g.pieces
	if len(ps) == 0 {
		return g.lead // the pattern is only stars
	}
	if !g.lead {
		if !hasPrefixFold(s, ps[0]) {
			return false
		}
		s, ps = s[len(ps[0]):], ps[1:]
		if len(ps) == 0 {
			return g.trail || s == ""
		}
	}
	last := ""
	if !g.trail {
		last, ps = ps[len(ps)-1], ps[:len(ps)-1]
	}
	for _, piece := range ps {
		i := indexFold(s, piece)
		if i < 0 {
			return false
		}
		s = s[i+len(piece):]
	}
	if g.trail {
		return true
	}
	return len(s) >= len(last) && hasPrefixFold(s[len(s)-len(last):], last)
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 32
	}
	return c
}

// hasPrefixFold reports whether s starts with the lowercase ASCII prefix p, ignoring case.
func hasPrefixFold(s, p string) bool {
	if len(s) < len(p) {
		return false
	}
	for i := 0; i < len(p); i++ {
		if lowerASCII(s[i]) != p[i] {
			return false
		}
	}
	return true
}

// indexFold finds the lowercase ASCII piece p in s, ignoring case.
func indexFold(s, p string) int {
	for i := 0; i+len(p) <= len(s); i++ {
		if lowerASCII(s[i]) == p[0] && hasPrefixFold(s[i:], p) {
			return i
		}
	}
	return -1
}

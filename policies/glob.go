package policies

import (
	"errors"
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

package main

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// safe makes a provider- or file-supplied string harmless on a terminal: file names,
// owners, paths and label names come from other people (a share user, a Drive owner,
// another tenant's PDF) and may carry escape sequences that recolour, retitle or rewrite
// the terminal, or bidi controls that make a name read backwards (Trojan Source,
// CVE-2021-42574). Every such rune is shown as a Go-style escape (\x1b, \u202e); invalid
// UTF-8 bytes as \xNN. Tabs and newlines are escaped too, so one value stays one table
// cell. Only people-facing output goes through safe: JSON output stays exact.
func safe(s string) string {
	clean := true
	for _, r := range s {
		if unsafeRune(r) || r == utf8.RuneError {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r < 0x80 && unsafeRune(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafeRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// unsafeRune: C0 controls and DEL, C1 controls (U+0080–U+009F, which some terminals obey as
// CSI and OSC), the bidi embeddings, overrides and isolates, the directional marks, and
// the line and paragraph separators.
func unsafeRune(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	case r == 0x200e, r == 0x200f, r == 0x061c, r == 0x2028, r == 0x2029:
		return true
	}
	return false
}

// safeAll escapes every string of a row.
func safeAll(row []string) []string {
	for i := range row {
		row[i] = safe(row[i])
	}
	return row
}

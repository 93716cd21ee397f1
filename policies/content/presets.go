package content

import (
	"fmt"
	"regexp"
	"strings"
)

// Preset names a built-in detector.
type Preset string

// Built-in presets.
const (
	CreditCard Preset = "creditCard" // 13–19 digits, spaces or dashes allowed, Luhn-valid
	SSN        Preset = "ssn"        // US social security number, with the SSA's never-issued ranges rejected
	IBAN       Preset = "iban"       // international bank account number with a valid mod-97 checksum
	Email      Preset = "email"      // e-mail address
)

// Presets lists the built-in presets.
func Presets() []Preset { return []Preset{CreditCard, SSN, IBAN, Email} }

// Matcher is one compiled detector. A Matcher is immutable and safe for concurrent use.
type Matcher struct {
	name string
	re   *regexp.Regexp
	// span is the most bytes a match can need from its start; a candidate closer than that to
	// the end of the buffered text waits for more text, so matches across chunk edges are found.
	span int
	// check confirms a candidate found by re at buf[s:e] and says where scanning resumes.
	check func(buf []byte, s, e int) (ok bool, next int)
}

// Name is the preset name or "regex:<expr>".
func (m *Matcher) Name() string { return m.name }

// NewPreset compiles a built-in preset.
func NewPreset(p Preset) (*Matcher, error) {
	switch p {
	case CreditCard:
		return &Matcher{name: string(p), re: reCard, span: 19*2 + 2, check: checkCard}, nil
	case SSN:
		return &Matcher{name: string(p), re: reSSN, span: 13, check: checkSSN}, nil
	case IBAN:
		return &Matcher{name: string(p), re: reIBAN, span: 34 + 9 + 2, check: checkIBAN}, nil
	case Email:
		return &Matcher{name: string(p), re: reEmail, span: 256, check: checkEmail}, nil
	}
	return nil, fmt.Errorf("unknown content preset %q (want one of creditCard, ssn, iban, email)", p)
}

// NewRegex compiles a custom regular expression (RE2 syntax). Matches are counted as found,
// without boundary checks; a match may be up to 1 KiB long to be found across chunk edges.
func NewRegex(expr string) (*Matcher, error) {
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, err
	}
	if re.MatchString("") {
		return nil, fmt.Errorf("regular expression %q matches empty text", expr)
	}
	return &Matcher{name: "regex:" + expr, re: re, span: 1024, check: func(_ []byte, _, e int) (bool, int) { return true, e }}, nil
}

var (
	reCard  = regexp.MustCompile(`[0-9](?:[ -]?[0-9]){12,18}`)
	reSSN   = regexp.MustCompile(`[0-9]{3}([- ])[0-9]{2}[- ][0-9]{4}`)
	reIBAN  = regexp.MustCompile(`[A-Z]{2}[0-9]{2} ?[A-Z0-9]`)
	reEmail = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}`)
)

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlnum(c byte) bool { return isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'z') }

// digitBefore reports whether a digit sits right before s, directly or behind a dash, which
// makes the candidate the tail of a longer number.
func digitBefore(buf []byte, s int) bool {
	if s > 0 && isDigit(buf[s-1]) {
		return true
	}
	return s > 1 && buf[s-1] == '-' && isDigit(buf[s-2])
}

func checkCard(buf []byte, s, e int) (bool, int) {
	if digitBefore(buf, s) || (e < len(buf) && isDigit(buf[e])) {
		return false, e
	}
	var digits [19]byte
	n := 0
	for _, c := range buf[s:e] {
		if isDigit(c) {
			digits[n] = c - '0'
			n++
		}
	}
	return luhn(digits[:n]), e
}

// luhn reports whether digits pass the Luhn (mod 10) check.
func luhn(d []byte) bool {
	sum := 0
	for i := len(d) - 1; i >= 0; i-- {
		v := int(d[i])
		if (len(d)-1-i)%2 == 1 {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	return sum%10 == 0
}

func checkSSN(buf []byte, s, e int) (bool, int) {
	if digitBefore(buf, s) || (e < len(buf) && (isDigit(buf[e]) || (buf[e] == '-' && e+1 < len(buf) && isDigit(buf[e+1])))) {
		return false, e
	}
	m := buf[s:e]
	if m[3] != m[6] { // one separator style per number
		return false, e
	}
	area := int(m[0]-'0')*100 + int(m[1]-'0')*10 + int(m[2]-'0')
	group := int(m[4]-'0')*10 + int(m[5]-'0')
	serial := int(m[7]-'0')*1000 + int(m[8]-'0')*100 + int(m[9]-'0')*10 + int(m[10]-'0')
	// The SSA never issues area 000, 666 or 900–999, group 00 or serial 0000; 078-05-1120 is
	// the famous wallet-card number printed on sample cards.
	if area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0 {
		return false, e
	}
	if area == 78 && group == 5 && serial == 1120 {
		return false, e
	}
	return true, e
}

// ibanLengths is the IBAN length per country (SWIFT IBAN registry).
var ibanLengths = map[string]int{
	"AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
	"BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29,
	"ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28,
	"HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
	"LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
	"MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29,
	"RO": 24, "RS": 22, "SA": 24, "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28,
	"TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}

// checkIBAN takes the country's IBAN length worth of characters from s, allowing single
// spaces between them (the printed form groups by four), and verifies the mod-97 checksum.
func checkIBAN(buf []byte, s, _ int) (bool, int) {
	if s > 0 && isAlnum(buf[s-1]) {
		return false, s + 1
	}
	want, ok := ibanLengths[string(buf[s:s+2])]
	if !ok {
		return false, s + 1
	}
	var chars [34]byte
	n, i := 0, s
	for i < len(buf) && n < want {
		c := buf[i]
		switch {
		case isDigit(c) || (c >= 'A' && c <= 'Z'):
			chars[n] = c
			n++
			i++
		case c == ' ' && n > 0 && i+1 < len(buf) && buf[i-1] != ' ':
			i++
		default:
			return false, s + 1
		}
	}
	if n < want || (i < len(buf) && isAlnum(buf[i])) {
		return false, s + 1
	}
	// Move the first four characters to the end, letters become 10..35, then mod 97 == 1.
	rem := 0
	for k := 0; k < want; k++ {
		c := chars[(k+4)%want]
		if isDigit(c) {
			rem = (rem*10 + int(c-'0')) % 97
		} else {
			rem = (rem*100 + int(c-'A'+10)) % 97
		}
	}
	if rem != 1 {
		return false, s + 1
	}
	return true, i
}

func checkEmail(buf []byte, s, e int) (bool, int) {
	// A local-part character before s means the address started earlier, beyond the window.
	if s > 0 && (isAlnum(buf[s-1]) || strings.IndexByte("._%+-@", buf[s-1]) >= 0) {
		return false, e
	}
	return e-s <= 254, e
}

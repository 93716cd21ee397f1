package content

import (
	"bytes"
	"compress/zlib"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/labeling/labeltest"
)

func setup(t testing.TB) []*Matcher {
	t.Helper()
	var ms []*Matcher
	for _, p := range Presets() {
		m, err := NewPreset(p)
		require.NoError(t, err)
		ms = append(ms, m)
	}
	return ms
}

// countText counts every preset in text written in one piece and in pieces of each size
// from 1 to 9 bytes, and requires all to agree: a match across chunk edges is still found.
func countText(t *testing.T, text string) map[Preset]int {
	t.Helper()
	ms := setup(t)
	sc := NewScanner(ms, nil)
	_, err := sc.Write([]byte(text))
	require.NoError(t, err)
	require.NoError(t, sc.Close())
	want := append([]int(nil), sc.Counts()...)
	for step := 1; step <= 9; step++ {
		sc := NewScanner(ms, nil)
		for i := 0; i < len(text); i += step {
			_, err := sc.Write([]byte(text[i:min(i+step, len(text))]))
			require.NoError(t, err)
		}
		require.NoError(t, sc.Close())
		require.Equal(t, want, sc.Counts(), "chunks of %d bytes", step)
	}
	out := map[Preset]int{}
	for i, p := range Presets() {
		out[p] = want[i]
	}
	return out
}

func TestPresets(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		text string
		want map[Preset]int
	}{
		{"visa spaced", "card: 4111 1111 1111 1111 exp 12/29", map[Preset]int{CreditCard: 1}},
		{"visa dashed", "4111-1111-1111-1111", map[Preset]int{CreditCard: 1}},
		{"amex and discover", "378282246310005 and 6011111111111117.", map[Preset]int{CreditCard: 2}},
		{"13 digits", "visa 4222222222222.", map[Preset]int{CreditCard: 1}},
		{"fails luhn", "4111 1111 1111 1112 and 1234567890123", map[Preset]int{}},
		{"part of a longer number", "order 041111111111111111 ref", map[Preset]int{}},
		{"too short", "4111 1111 1111", map[Preset]int{}},
		{"ssn valid", "SSN 123-45-6789 and 536 22 1234", map[Preset]int{SSN: 2}},
		{"ssn invalid areas", "000-12-3456 666-12-3456 912-34-5678 999-12-3456", map[Preset]int{}},
		{"ssn invalid group serial", "123-00-4567 123-45-0000 078-05-1120", map[Preset]int{}},
		{"ssn mixed separators or longer", "123-45 6789 1123-45-6789 123-45-67890", map[Preset]int{}},
		{"iban valid", "pay GB82 WEST 1234 5698 7654 32 or DE89370400440532013000.", map[Preset]int{IBAN: 2}},
		{"iban bad checksum", "GB82 WEST 1234 5698 7654 33 and DE89370400440532013001", map[Preset]int{}},
		{"iban unknown country or short", "ZZ82WEST12345698765432 GB82WEST123456987654", map[Preset]int{}},
		{"iban followed by words", "IBAN: FR14 2004 1010 0505 0001 3M02 606 THANKS", map[Preset]int{IBAN: 1}},
		{"emails", "mail alice.smith+x@example.co.uk, bob@test.org; not@home", map[Preset]int{Email: 2}},
		{"nothing", "just some words 12 34", map[Preset]int{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := countText(t, tc.text)
			for _, p := range Presets() {
				require.Equal(t, tc.want[p], got[p], "%s in %q", p, tc.text)
			}
		})
	}
}

func TestLuhn(t *testing.T) {
	t.Parallel()
	d := func(s string) []byte {
		var b []byte
		for _, c := range s {
			b = append(b, byte(c-'0'))
		}
		return b
	}
	require.True(t, luhn(d("79927398713")))
	require.False(t, luhn(d("79927398710")))
	require.True(t, luhn(d("4111111111111111")))
}

func TestRegexAndTargets(t *testing.T) {
	t.Parallel()
	re, err := NewRegex(`PRJ-[0-9]{4}`)
	require.NoError(t, err)
	_, err = NewRegex(`a*`)
	require.Error(t, err, "a pattern matching empty text would count everywhere")
	_, err = NewRegex(`(`)
	require.Error(t, err)
	_, err = NewPreset("passport")
	require.ErrorContains(t, err, "passport")

	text := strings.Repeat("see PRJ-1234 and PRJ-99 ", 10)
	sc := NewScanner([]*Matcher{re}, nil)
	_, err = sc.Write([]byte(text))
	require.NoError(t, err)
	require.NoError(t, sc.Close())
	require.Equal(t, []int{10}, sc.Counts())

	// With a target of 3 the scanner asks the extractor to stop.
	text = strings.Repeat(text, 20)
	sc = NewScanner([]*Matcher{re}, []int{3})
	var stopped bool
	for i := 0; i < len(text); i += 10 {
		if _, err := sc.Write([]byte(text[i:min(i+10, len(text))])); err == ErrEnough {
			stopped = true
			break
		}
	}
	require.True(t, stopped)
	require.Equal(t, 3, sc.Counts()[0])
}

// flatePDF writes a minimal PDF whose page content is one FlateDecode stream built from ops,
// next to an image stream and a font stream holding card-like digits that must be ignored.
func flatePDF(ops string) []byte {
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	_, _ = zw.Write([]byte(ops))
	_ = zw.Close()
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offs := []int{}
	obj := func(body string, stream []byte) {
		offs = append(offs, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s", len(offs), body)
		if stream != nil {
			fmt.Fprintf(&b, "\nstream\r\n%s\r\nendstream", stream)
		}
		b.WriteString("\nendobj\n")
	}
	obj("<< /Type /Catalog /Pages 2 0 R >>", nil)
	obj("<< /Type /Pages /Kids [3 0 R] /Count 1 >>", nil)
	obj("<< /Type /Page /Parent 2 0 R /Contents 4 0 R /Resources << /XObject << /Im1 5 0 R >> >> >>", nil)
	obj(fmt.Sprintf("<< /Length %d /Filter /FlateDecode >>", z.Len()), z.Bytes())
	img := []byte("BT (4111 1111 1111 1111) Tj ET")
	obj(fmt.Sprintf("<< /Type /XObject /Subtype /Image /Width %d /Height 1 /BitsPerComponent 8 /Length %d >>", len(img), len(img)), img)
	obj(fmt.Sprintf("<< /Length1 %d /Length %d >>", len(img), len(img)), img)
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(offs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offs)+1, xref)
	return b.Bytes()
}

func countFile(t *testing.T, name string, data []byte) map[Preset]int {
	t.Helper()
	ms := setup(t)
	counts, err := Count(context.Background(), bytes.NewReader(data), int64(len(data)), name, ms, nil, Limits{})
	require.NoError(t, err)
	out := map[Preset]int{}
	for i, p := range Presets() {
		out[p] = counts[i]
	}
	return out
}

func TestOfficeFiles(t *testing.T) {
	t.Parallel()
	hits := []string{"Customer card 4111 1111 1111 1111", "SSN 123-45-6789", "IBAN GB82 WEST 1234 5698 7654 32", "write to a@b.com"}
	misses := []string{"Customer card 4111 1111 1111 1112", "SSN 666-45-6789", "IBAN GB82 WEST 1234 5698 7654 33", "write to nobody"}
	for _, tc := range []struct {
		name  string
		build func(labeltest.Options) []byte
	}{{"a.docx", labeltest.Docx}, {"a.xlsx", labeltest.Xlsx}, {"a.pptx", labeltest.Pptx}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := countFile(t, tc.name, tc.build(labeltest.Options{Text: hits, Padding: 200 << 10}))
			require.Equal(t, map[Preset]int{CreditCard: 1, SSN: 1, IBAN: 1, Email: 1}, got)
			got = countFile(t, tc.name, tc.build(labeltest.Options{Text: misses}))
			require.Equal(t, map[Preset]int{CreditCard: 0, SSN: 0, IBAN: 0, Email: 0}, got)
		})
	}
}

func TestWordRunsJoin(t *testing.T) {
	t.Parallel()
	// Word splits text into runs anywhere; a card number across runs is still one number.
	doc := `<w:document xmlns:w="w"><w:body><w:p><w:r><w:t>4111 11</w:t></w:r><w:r><w:t>11 1111 1111</w:t></w:r></w:p>` +
		`<w:p><w:r><w:t>4111 1111</w:t></w:r></w:p><w:p><w:r><w:t>1111 1111</w:t></w:r></w:p></w:body></w:document>`
	data := zipOf(t, map[string]string{"word/document.xml": doc})
	require.Equal(t, 1, countFile(t, "x.docx", data)[CreditCard], "the second number is split across paragraphs")
}

func TestPDF(t *testing.T) {
	t.Parallel()
	ops := "BT /F1 12 Tf 72 720 Td (Card: 4111 1111 ) Tj [(1111) -20 ( 1111)] TJ T*\n" +
		"[(Contact) -300 (a@b.com)] TJ 0 -14 Td <3132332D34352D36373839> Tj\n" +
		"(bad 4111 1111 1111 1112 and \\(666-12-3456\\)) ' ET\n" +
		"BI /W 2 /H 2 /BPC 8 /CS /G ID \x00\xff(4111111111111111)\x01 EI\n" +
		"BT (IBAN DE89 3704 0044 0532 0130 00) Tj ET"
	got := countFile(t, "a.pdf", flatePDF(ops))
	require.Equal(t, map[Preset]int{CreditCard: 1, SSN: 1, IBAN: 1, Email: 1}, got)

	got = countFile(t, "b.pdf", flatePDF("BT (nothing to see 4111 1111 1111 1112) Tj ET"))
	require.Equal(t, map[Preset]int{CreditCard: 0, SSN: 0, IBAN: 0, Email: 0}, got, "image and font streams are not text")

	// An uncompressed content stream as labeltest writes it, after a large image.
	plain := labeltest.PDF(labeltest.PDFOptions{Text: []string{"card 5500 0000 0000 0004"}, Padding: 300 << 10})
	require.Equal(t, 1, countFile(t, "c.pdf", plain)[CreditCard])
}

func TestLimitsAndUnsupported(t *testing.T) {
	t.Parallel()
	ms := setup(t)
	text := strings.Repeat("x", 1000) + " 4111 1111 1111 1111"
	counts, err := Count(context.Background(), strings.NewReader(text), int64(len(text)), "a.txt", ms, nil, Limits{MaxText: 500})
	require.NoError(t, err)
	require.Equal(t, 0, counts[0], "text past the cap is not inspected")
	counts, err = Count(context.Background(), strings.NewReader(text), int64(len(text)), "a.txt", ms, nil, Limits{})
	require.NoError(t, err)
	require.Equal(t, 1, counts[0])
	_, err = Count(context.Background(), strings.NewReader(text), int64(len(text)), "a.exe", ms, nil, Limits{})
	require.ErrorIs(t, err, ErrUnsupported)
	_, err = Count(context.Background(), strings.NewReader("not a zip"), 9, "a.docx", ms, nil, Limits{})
	require.Error(t, err)
}

package pdf

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func setup(t *testing.T, objs ...string) []byte {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	offs := make([]int, len(objs))
	for i, o := range objs {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	x := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f\r\n", len(objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n\r\n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R /Info 2 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, x)
	return b.Bytes()
}

func TestLexer(t *testing.T) {
	t.Parallel()
	l := &lexer{b: []byte(`<< /A#20B (a\(b\)\\c\101\
d) /H <48 65 6c6C 6f> /N [1 -2.5 true null 3 0 R /X] /D << /E false >> >> `)}
	o, err := l.object(0)
	require.NoError(t, err)
	d := o.(Dict)
	require.Equal(t, String("a(b)\\cAd"), d["A B"])
	require.Equal(t, "Hello", d["H"].(String).Text())
	require.Equal(t, []Object{int64(1), -2.5, true, nil, Ref{Num: 3}, Name("X")}, d["N"])
	require.Equal(t, Dict{"E": false}, d["D"])
	require.Equal(t, "Ré", String([]byte{0xFE, 0xFF, 0, 'R', 0, 0xE9}).Text())

	_, err = (&lexer{b: []byte("<< /A (unterminated")}).object(0)
	require.ErrorIs(t, err, errShort)
}

func TestReadIndirectLengthAndInlineValues(t *testing.T) {
	t.Parallel()
	xmp := []byte(`<x:xmpmeta xmlns:x="adobe:ns:meta/"/>`)
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	_, _ = zw.Write(xmp)
	_ = zw.Close()
	data := setup(t,
		"<< /Type /Catalog /Metadata 3 0 R >>",
		"<< /Title (T) >>",
		fmt.Sprintf("<< /Type /Metadata /Length 4 0 R /Filter [/FlateDecode] >>\nstream\n%s\nendstream", z.Bytes()),
		fmt.Sprint(z.Len()),
	)
	doc, err := Read(bytes.NewReader(data), int64(len(data)))
	require.NoError(t, err)
	require.Equal(t, xmp, doc.XMP)
	require.Equal(t, String("T"), doc.Info["Title"])
	require.Equal(t, 0, doc.InfoAge)
}

func TestHostileStreams(t *testing.T) {
	t.Parallel()
	// A metadata stream that inflates past the limit.
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	_, _ = zw.Write(make([]byte, maxXMP+1))
	_ = zw.Close()
	bomb := setup(t,
		"<< /Type /Catalog /Metadata 3 0 R >>",
		"<< >>",
		fmt.Sprintf("<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream", z.Len(), z.Bytes()))
	_, err := Read(bytes.NewReader(bomb), int64(len(bomb)))
	require.ErrorIs(t, err, ErrMalformed)

	huge := setup(t, "<< /Type /Catalog /Metadata 3 0 R >>", "<< >>", "<< /Length 99999999999 >>\nstream\nabc\nendstream")
	_, err = Read(bytes.NewReader(huge), int64(len(huge)))
	require.ErrorIs(t, err, ErrMalformed)

	// /Length refers to itself.
	self := setup(t, "<< /Type /Catalog /Metadata 3 0 R >>", "<< >>", "<< /Length 3 0 R >>\nstream\nabc\nendstream")
	_, err = Read(bytes.NewReader(self), int64(len(self)))
	require.ErrorIs(t, err, ErrMalformed)

	// The xref says object 2 lives where object 1 is.
	wrong := setup(t, "<< /Type /Catalog >>", "<< >>")
	x := bytes.Index(wrong, []byte("xref\n0 3\n")) + len("xref\n0 3\n")
	copy(wrong[x+40:x+60], wrong[x+20:x+40]) // entry 2 := entry 1
	_, err = Read(bytes.NewReader(wrong), int64(len(wrong)))
	require.ErrorIs(t, err, ErrMalformed)
}

func TestAppendUpdateKeepsPrefixAndReadsBack(t *testing.T) {
	t.Parallel()
	data := setup(t, "<< /Type /Catalog >>", "<< /Title (Old) /Producer (x) >>")
	doc, err := Read(bytes.NewReader(data), int64(len(data)))
	require.NoError(t, err)
	info := Dict{"Title": TextString("Nouveau é"), "Producer": doc.Info["Producer"]}
	var out bytes.Buffer
	require.NoError(t, AppendUpdate(bytes.NewReader(data), int64(len(data)), doc, Update{Info: info}, &out))
	require.True(t, bytes.HasPrefix(out.Bytes(), data))
	doc2, err := Read(bytes.NewReader(out.Bytes()), int64(out.Len()))
	require.NoError(t, err)
	require.Equal(t, "Nouveau é", doc2.Info["Title"].(String).Text())
	require.Equal(t, String("x"), doc2.Info["Producer"])
	require.Greater(t, doc2.StartXref, int64(len(data)), "the new section is in the appended part")
	require.Contains(t, string(out.Bytes()[len(data):]), fmt.Sprintf("/Prev %d", doc.StartXref))
	require.Equal(t, 0, doc2.InfoAge, "the Info object comes from the newest section")
}

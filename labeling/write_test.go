package labeling

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/labelgate/labelgate/labeling/labeltest"
	"github.com/stretchr/testify/require"
)

func setup(t *testing.T) (context.Context, Label) {
	t.Helper()
	return context.Background(), Label{
		ID: "{87867195-F2B8-4AC2-B0B6-6BB73CB33AFC}", Tenant: labeltest.TenantFabrikam, Method: "privileged",
		Name: "Highly Confidential", ContentBits: 8, SetDate: time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC),
	}
}

func readOK(t *testing.T, data []byte, name string) Result {
	t.Helper()
	res, err := Read(context.Background(), bytes.NewReader(data), int64(len(data)), name)
	require.NoError(t, err)
	return res
}

func apply(t *testing.T, data []byte, name string, l Label) []byte {
	t.Helper()
	var out bytes.Buffer
	require.NoError(t, Apply(context.Background(), bytes.NewReader(data), int64(len(data)), name, l, &out))
	return out.Bytes()
}

func remove(t *testing.T, data []byte, name string) []byte {
	t.Helper()
	var out bytes.Buffer
	require.NoError(t, Remove(context.Background(), bytes.NewReader(data), int64(len(data)), name, &out))
	return out.Bytes()
}

func TestApplyReadsBackEveryWritableCorpusFile(t *testing.T) {
	t.Parallel()
	for _, c := range labeltest.Corpus() {
		if c.WantErr || c.WantProtected != "" {
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			ctx, l := setup(t)
			out := apply(t, c.Data, c.Name, l)
			res := readOK(t, out, c.Name)
			require.NotNil(t, res.Label)
			require.Equal(t, "87867195-f2b8-4ac2-b0b6-6bb73cb33afc", res.Label.ID)
			require.Equal(t, labeltest.TenantFabrikam, res.Label.Tenant)
			require.Equal(t, "privileged", res.Label.Method)
			require.Equal(t, "Highly Confidential", res.Label.Name)
			require.Equal(t, 8, res.Label.ContentBits)
			require.Equal(t, l.SetDate, res.Label.SetDate)
			for _, rec := range res.Labels {
				// Every record left agrees with the applied label: no stale label survives.
				require.True(t, rec.ID == res.Label.ID || rec.Removed, "stale record %+v", rec)
			}
			if TypeOf(c.Name) == TypePDF {
				require.True(t, bytes.HasPrefix(out, c.Data), "an incremental update leaves the original bytes untouched")
			} else {
				require.Len(t, res.Labels, 2, "both encodings are written")
				assertZipShape(t, out)
			}

			var rm bytes.Buffer
			require.NoError(t, Remove(ctx, bytes.NewReader(out), int64(len(out)), c.Name, &rm))
			res = readOK(t, rm.Bytes(), c.Name)
			require.Nil(t, res.Label)
			if TypeOf(c.Name) != TypePDF {
				require.Len(t, res.Labels, 1)
				require.True(t, res.Labels[0].Removed)
				require.Equal(t, labeltest.TenantFabrikam, res.Labels[0].ID, "a removed record's id is the tenant")
			} else {
				require.Empty(t, res.Labels)
			}
		})
	}
}

// assertZipShape checks the package opens with archive/zip, [Content_Types].xml comes first and
// the label parts are wired with the right relationship and content type.
func assertZipShape(t *testing.T, data []byte) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	require.NoError(t, err)
	require.Equal(t, "[Content_Types].xml", zr.File[0].Name)
	part := func(name string) string {
		f, err := zr.Open(name)
		require.NoError(t, err)
		b, err := io.ReadAll(f)
		require.NoError(t, err)
		return string(b)
	}
	ct, rels := part("[Content_Types].xml"), part("_rels/.rels")
	require.Contains(t, ct, `ContentType="application/vnd.ms-office.classificationlabels+xml"`)
	require.Contains(t, ct, `ContentType="application/vnd.openxmlformats-officedocument.custom-properties+xml"`)
	require.Contains(t, rels, relClassification)
	require.Contains(t, rels, relCustomProps)
	names := map[string]int{}
	for _, f := range zr.File {
		names[f.Name]++
	}
	for n, k := range names {
		require.Equal(t, 1, k, "entry %s written once", n)
	}
}

func TestApplyKeepsOtherPartsAndProperties(t *testing.T) {
	t.Parallel()
	_, l := setup(t)
	src := labeltest.Docx(labeltest.Options{Custom: []labeltest.Label{labeltest.General()}, Text: []string{"hello"}, GrowthHint: true})
	out := apply(t, src, "a.docx", l)
	zr, err := zip.NewReader(bytes.NewReader(out), int64(len(out)))
	require.NoError(t, err)
	src0, err := zip.NewReader(bytes.NewReader(src), int64(len(src)))
	require.NoError(t, err)
	for _, f := range src0.File {
		if f.Name == "word/document.xml" {
			var got *zip.File
			for _, g := range zr.File {
				if g.Name == f.Name {
					got = g
				}
			}
			require.NotNil(t, got)
			require.Equal(t, f.CRC32, got.CRC32)
			require.Equal(t, f.CompressedSize64, got.CompressedSize64, "copied raw, not recompressed")
		}
	}
	f, err := zr.Open("docProps/custom.xml")
	require.NoError(t, err)
	custom, err := io.ReadAll(f)
	require.NoError(t, err)
	require.Contains(t, string(custom), `name="Company"`)
	require.NotContains(t, string(custom), labeltest.LabelGeneral, "the old label's keys are gone")
}

func TestApplyToRealSample(t *testing.T) {
	t.Parallel()
	_, l := setup(t)
	data := readSample(t)
	out := apply(t, data, "LabeledGeneral.docx", l)
	res := readOK(t, out, "LabeledGeneral.docx")
	require.Equal(t, "87867195-f2b8-4ac2-b0b6-6bb73cb33afc", res.Label.ID)
	res = readOK(t, remove(t, data, "LabeledGeneral.docx"), "LabeledGeneral.docx")
	require.Nil(t, res.Label)
	require.Len(t, res.Labels, 1)
	require.Equal(t, "72f988bf-86f1-41af-91ab-2d7cd011db47", res.Labels[0].Tenant)
}

func TestApplyPDFWithXMPRewritesBoth(t *testing.T) {
	t.Parallel()
	_, l := setup(t)
	src := labeltest.PDF(labeltest.PDFOptions{Info: []labeltest.Label{labeltest.General()}, XMP: []labeltest.Label{labeltest.General()}, XMPAttributes: true})
	out := apply(t, src, "x.pdf", l)
	res := readOK(t, out, "x.pdf")
	require.Len(t, res.Labels, 2)
	for _, rec := range res.Labels {
		require.Equal(t, "87867195-f2b8-4ac2-b0b6-6bb73cb33afc", rec.ID, rec.Source)
	}
	require.ElementsMatch(t, []string{"pdf-info", "pdf-xmp"}, []string{res.Labels[0].Source, res.Labels[1].Source})
}

func TestRefusals(t *testing.T) {
	t.Parallel()
	ctx, l := setup(t)
	cases := []struct {
		name string
		data []byte
		err  error
	}{
		{"p.docx", labeltest.Protected("rms", nil, 0), ErrProtected},
		{"p.xlsx", labeltest.Protected("password", nil, 0), ErrProtected},
		{"p.pdf", labeltest.PDF(labeltest.PDFOptions{Encrypt: "password"}), ErrProtected},
		{"notes.txt", []byte("hello"), ErrUnsupported},
		{"bad.docx", []byte("not a zip file at all, really"), ErrMalformed},
	}
	for _, c := range cases {
		err := Apply(ctx, bytes.NewReader(c.data), int64(len(c.data)), c.name, l, io.Discard)
		require.ErrorIs(t, err, c.err, c.name)
		err = Remove(ctx, bytes.NewReader(c.data), int64(len(c.data)), c.name, io.Discard)
		require.ErrorIs(t, err, c.err, c.name)
	}
	big := io.NewSectionReader(bytes.NewReader(nil), 0, 0)
	require.ErrorIs(t, Apply(ctx, big, MaxLabelSize+1, "big.docx", l, io.Discard), ErrTooLarge)
	bad := l
	bad.ID = "not-a-guid"
	src := labeltest.Docx(labeltest.Options{})
	require.ErrorIs(t, Apply(ctx, bytes.NewReader(src), int64(len(src)), "a.docx", bad, io.Discard), ErrInvalidLabel)
}

func TestTypes(t *testing.T) {
	t.Parallel()
	for _, n := range []string{"a.docm", "a.DOCX", "a.dotm", "a.dotx", "a.xlam", "a.xlsm", "a.xlsx", "a.xltx", "a.potm", "a.potx", "a.ppsx", "a.ppsm", "a.pptm", "a.pptx", "a.pdf"} {
		require.True(t, IsSupported(n), n)
	}
	require.Equal(t, TypeExcel, TypeOf("x/y/Book.XLSM"))
	require.Equal(t, TypePowerPoint, TypeOf("deck.ppsx"))
	// Legacy binary files are read (issue 20) but never written.
	require.True(t, IsSupported("a.doc"))
	require.Equal(t, TypeUnsupported, TypeOf("a.doc"))
	require.ErrorIs(t, WriteUnsupported("a.doc"), ErrUnsupported)
	res, err := Read(context.Background(), bytes.NewReader([]byte("x")), 1, "a.txt")
	require.ErrorIs(t, err, ErrUnsupported)
	require.Equal(t, TypeUnsupported, res.Type)
}

func errorsIsAny(err error, targets ...error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}

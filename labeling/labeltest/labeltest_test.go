package labeltest

import (
	"archive/zip"
	"bytes"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
)

func setup(t *testing.T, data []byte) map[string]string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	require.NoError(t, err)
	parts := map[string]string{}
	for _, f := range zr.File {
		rc, err := f.Open()
		require.NoError(t, err)
		b, err := io.ReadAll(rc)
		require.NoError(t, err)
		parts[f.Name] = string(b)
	}
	return parts
}

func TestTextLandsWhereReadersLook(t *testing.T) {
	t.Parallel()
	text := []string{"Project <Falcon> & co", "second"}
	require.Contains(t, setup(t, Docx(Options{Text: text}))["word/document.xml"], "<w:t xml:space=\"preserve\">Project &lt;Falcon&gt; &amp; co</w:t>")
	require.Contains(t, setup(t, Xlsx(Options{Text: text}))["xl/sharedStrings.xml"], ">second</t>")
	require.Contains(t, setup(t, Pptx(Options{Text: text}))["ppt/slides/slide1.xml"], "<a:t>second</a:t>")
	require.Contains(t, string(PDF(PDFOptions{Text: text})), "(Project <Falcon> & co) Tj")
}

func TestPaddingAndVariantsOpenWithArchiveZip(t *testing.T) {
	t.Parallel()
	for _, o := range []Options{{Padding: 100 << 10}, {Zip64: true}, {DataDescriptors: true, GrowthHint: true}, {Zip64: true, DataDescriptors: true}} {
		o.Custom = []Label{General()}
		parts := setup(t, Docx(o))
		require.Contains(t, parts["docProps/custom.xml"], "MSIP_Label_"+LabelGeneral+"_Enabled")
		if o.Padding > 0 {
			require.Len(t, parts["word/media/image1.bin"], o.Padding)
		}
	}
	require.Equal(t, Padding(1000, 3), Padding(1000, 3), "deterministic")
}

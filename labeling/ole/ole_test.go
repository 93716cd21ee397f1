package ole_test

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/labeling/cfb"
	"github.com/labelgate/labelgate/labeling/labeltest"
	"github.com/labelgate/labelgate/labeling/ole"
)

func setup(t *testing.T, labels []labeltest.Label, unicode bool) map[string]string {
	t.Helper()
	props, err := ole.UserDefined(labeltest.DocSummaryInfo(labels, unicode))
	require.NoError(t, err)
	out := map[string]string{}
	for _, p := range props {
		out[p.Name] = p.Value
	}
	return out
}

func TestUserDefinedBothCodePages(t *testing.T) {
	t.Parallel()
	g := labeltest.General()
	g.Name = "Général" // non-ASCII survives UTF-16; 1252 maps it byte for byte
	for _, unicode := range []bool{false, true} {
		m := setup(t, []labeltest.Label{g}, unicode)
		p := "MSIP_Label_" + labeltest.LabelGeneral + "_"
		require.Equal(t, "true", m[p+"Enabled"])
		require.Equal(t, labeltest.TenantContoso, m[p+"SiteId"])
		require.Equal(t, "Privileged", m[p+"Method"])
		require.Equal(t, "2024-01-01T12:00:00Z", m[p+"SetDate"])
		require.Equal(t, "Contoso Ltd", m["Company"])
		if unicode {
			require.Equal(t, "Général", m[p+"Name"])
		}
	}
}

func TestUserDefinedAbsentAndBroken(t *testing.T) {
	t.Parallel()
	props, err := ole.UserDefined(summaryOnly())
	require.NoError(t, err)
	require.Empty(t, props)
	for name, data := range map[string][]byte{
		"short":     []byte{0xFE, 0xFF},
		"bad bom":   append([]byte{0xFF, 0xFE}, make([]byte, 60)...),
		"truncated": labeltest.DocSummaryInfo([]labeltest.Label{labeltest.General()}, false)[:200],
	} {
		_, err := ole.UserDefined(data)
		require.ErrorIs(t, err, ole.ErrMalformed, name)
	}
}

// summaryOnly is a stream with only the document summary set: no user-defined properties.
func summaryOnly() []byte {
	b := labeltest.DocSummaryInfo(nil, false)
	binary.LittleEndian.PutUint32(b[24:], 1)
	return b
}

// seeds are the DocumentSummaryInformation streams of the committed corpus's compound files.
func seeds(f *testing.F) [][]byte {
	f.Helper()
	dir := filepath.Join("..", "..", "testdata", "labels")
	ents, err := os.ReadDir(dir)
	require.NoError(f, err)
	var out [][]byte
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil || !bytes.HasPrefix(b, cfb.Magic) || strings.HasPrefix(e.Name(), "truncated") {
			continue
		}
		cf, err := cfb.Open(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			continue
		}
		if s, ok := cf.Find("\x05DocumentSummaryInformation"); ok {
			if data, err := cf.ReadStream(s, 1<<20); err == nil {
				out = append(out, data)
			}
		}
	}
	require.NotEmpty(f, out, "the corpus has legacy files with property sets")
	return out
}

// FuzzUserDefined: arbitrary streams never panic, and what parses is bounded by the input.
func FuzzUserDefined(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s)
	}
	f.Add(labeltest.DocSummaryInfo([]labeltest.Label{labeltest.General()}, true))
	f.Fuzz(func(t *testing.T, data []byte) {
		props, err := ole.UserDefined(data)
		if err != nil {
			require.ErrorIs(t, err, ole.ErrMalformed)
			return
		}
		total := 0
		for _, p := range props {
			total += len(p.Name) + len(p.Value)
		}
		// UTF-16 and Latin-1 decoding at most triple a byte's size in UTF-8.
		require.LessOrEqual(t, total, 3*len(data))
	})
}

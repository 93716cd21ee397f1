package pfile_test

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/labeling/labeltest"
	"github.com/labelgate/labelgate/labeling/pfile"
)

func TestReadHeader(t *testing.T) {
	t.Parallel()
	b := labeltest.PFile(".docx", 5000)
	h, err := pfile.Read(bytes.NewReader(b), int64(len(b)))
	require.NoError(t, err)
	require.Equal(t, ".docx", h.Extension)
	require.Equal(t, uint32(2), h.Major)
	require.Equal(t, uint32(1), h.Minor)
	require.Equal(t, uint64(5000), h.OriginalSize)
	require.Contains(t, h.Redirect, "Rights Management")
	require.Equal(t, int64(len(b)-5000), int64(h.ContentOffset))
}

func TestReadHeaderRefusesBrokenFields(t *testing.T) {
	t.Parallel()
	good := labeltest.PFile(".txt", 100)
	note := int(binary.LittleEndian.Uint32(good[14:]))
	hdr := 18 + note
	for name, patch := range map[string]func(b []byte){
		"version":        func(b []byte) { binary.LittleEndian.PutUint32(b[6:], 7) },
		"redirect":       func(b []byte) { binary.LittleEndian.PutUint32(b[14:], 1<<30) },
		"licence past":   func(b []byte) { binary.LittleEndian.PutUint32(b[hdr+16:], 1<<30) },
		"content before": func(b []byte) { binary.LittleEndian.PutUint32(b[hdr+20:], 3) },
		"extension":      func(b []byte) { binary.LittleEndian.PutUint32(b[hdr+8:], 1<<20) },
		"preamble":       func(b []byte) { b[1] = 'x' },
	} {
		b := bytes.Clone(good)
		patch(b)
		_, err := pfile.Read(bytes.NewReader(b), int64(len(b)))
		require.ErrorIs(t, err, pfile.ErrMalformed, name)
	}
}

// FuzzParse: arbitrary heads never panic, and a parsed header's regions lie inside the file.
func FuzzParse(f *testing.F) {
	dir := filepath.Join("..", "..", "testdata", "labels")
	for _, n := range []string{"report.pfile", "notes.ptxt", "scan.ppdf", "truncated.pfile", "bad-version.pfile"} {
		b, err := os.ReadFile(filepath.Join(dir, n))
		require.NoError(f, err)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := pfile.Read(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			require.ErrorIs(t, err, pfile.ErrMalformed)
			return
		}
		require.LessOrEqual(t, int64(h.PLOffset)+int64(h.PLLen), int64(len(data)))
		require.LessOrEqual(t, int64(h.ContentOffset), int64(len(data)))
		require.LessOrEqual(t, len(h.Extension), 256)
	})
}

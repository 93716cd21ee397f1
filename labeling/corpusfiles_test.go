package labeling

//go:generate env LABELGATE_UPDATE_CORPUS=1 go test -run TestCorpusFilesUpToDate .

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/labelgate/labelgate/labeling/labeltest"
	"github.com/stretchr/testify/require"
)

const corpusDir = "../testdata/labels"

// TestCorpusFilesUpToDate keeps the committed corpus (fuzz seeds, files for other packages and
// for `labelgate inspect`) equal to what the generator builds; `go generate` rewrites it.
func TestCorpusFilesUpToDate(t *testing.T) {
	t.Parallel()
	update := os.Getenv("LABELGATE_UPDATE_CORPUS") == "1"
	total := 0
	for _, c := range slices.Concat(labeltest.Corpus(), labeltest.ReadOnlyCorpus(), labeltest.TenantCorpus()) {
		p := filepath.Join(corpusDir, c.Name)
		total += len(c.Data)
		if update {
			require.NoError(t, os.WriteFile(p, c.Data, 0o644))
			continue
		}
		got, err := os.ReadFile(p)
		require.NoError(t, err, "run go generate ./labeling to write the corpus")
		require.True(t, bytes.Equal(c.Data, got), "%s is stale: run go generate ./labeling", c.Name)
	}
	require.Less(t, total, 2<<20, "the committed corpus stays small")
}

// corpusSeeds returns the committed corpus files with one of the given extensions.
func corpusSeeds(f interface{ Helper() }, exts ...string) [][]byte {
	f.Helper()
	entries, _ := os.ReadDir(corpusDir)
	var out [][]byte
	for _, e := range entries {
		for _, ext := range exts {
			if strings.HasSuffix(e.Name(), ext) {
				if b, err := os.ReadFile(filepath.Join(corpusDir, e.Name())); err == nil {
					out = append(out, b)
				}
			}
		}
	}
	return out
}

// fuzzRead asserts the reader's contract on arbitrary input: no panic, and either a result or
// an error that callers can branch on.
func fuzzRead(t *testing.T, data []byte, name string) {
	res, err := Read(context.Background(), bytes.NewReader(data), int64(len(data)), name)
	if err != nil {
		require.True(t, errorsIsAny(err, ErrMalformed, ErrUnsupported), "untyped error %v", err)
		return
	}
	if res.Label != nil {
		require.NotEmpty(t, res.Label.ID)
	}
	require.LessOrEqual(t, res.BytesRead, int64(len(data)))
}

func FuzzReadOOXML(f *testing.F) {
	for _, s := range corpusSeeds(f, ".docx", ".xlsx", ".pptx", ".xlsm", ".dotx", ".potx") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRead(t, data, "f.docx") })
}

func FuzzReadPDF(f *testing.F) {
	for _, s := range corpusSeeds(f, ".pdf") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRead(t, data, "f.pdf") })
}

func FuzzReadCFB(f *testing.F) {
	f.Add(labeltest.Protected("rms", []labeltest.Label{labeltest.General()}, 0))
	f.Add(labeltest.Protected("password", nil, 0))
	for _, s := range corpusSeeds(f, ".doc", ".xls", ".ppt") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRead(t, data, "f.xlsx") })
}

func FuzzReadPFile(f *testing.F) {
	for _, s := range corpusSeeds(f, ".pfile", ".ptxt", ".ppdf") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRead(t, data, "f.pfile") })
}

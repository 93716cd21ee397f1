package ooxml

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"io"
	"testing"

	"github.com/labelgate/labelgate/labeling/labeltest"
	"github.com/labelgate/labelgate/labeling/rangeio"
	"github.com/stretchr/testify/require"
)

func setup(t *testing.T, o labeltest.Options) ([]byte, *Archive) {
	t.Helper()
	o.Custom = []labeltest.Label{labeltest.General()}
	data := labeltest.Docx(o)
	a, err := Open(bytes.NewReader(data), int64(len(data)))
	require.NoError(t, err)
	return data, a
}

func TestReadEntryAcrossVariants(t *testing.T) {
	t.Parallel()
	for _, o := range []labeltest.Options{{}, {Zip64: true}, {DataDescriptors: true, GrowthHint: true}, {Zip64: true, DataDescriptors: true}} {
		_, a := setup(t, o)
		got, err := a.ReadEntry("docProps/custom.xml", 1<<20)
		require.NoError(t, err)
		require.Contains(t, string(got), labeltest.LabelGeneral)
		_, err = a.ReadEntry("DOCPROPS/Custom.xml", 1<<20)
		require.NoError(t, err, "part names compare case-insensitively")
		_, err = a.ReadEntry("missing.xml", 1<<20)
		require.ErrorIs(t, err, ErrNotFound)
		_, err = a.ReadEntry("docProps/custom.xml", 10)
		require.ErrorIs(t, err, ErrMalformed)
	}
}

func TestArchiveComment(t *testing.T) {
	t.Parallel()
	data, _ := setup(t, labeltest.Options{})
	comment := bytes.Repeat([]byte("c"), 1000)
	binary.LittleEndian.PutUint16(data[len(data)-2:], uint16(len(comment)))
	data = append(data, comment...)
	a, err := Open(bytes.NewReader(data), int64(len(data)))
	require.NoError(t, err)
	_, err = a.ReadEntry("docProps/custom.xml", 1<<20)
	require.NoError(t, err)
}

func TestCorruptEntries(t *testing.T) {
	t.Parallel()
	data, a := setup(t, labeltest.Options{})
	e, _ := a.Lookup("docProps/custom.xml")
	read := func(b []byte) error {
		a, err := Open(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return err
		}
		_, err = a.ReadEntry("docProps/custom.xml", 1<<20)
		return err
	}
	bad := bytes.Clone(data)
	bad[e.HeaderOffset+30+int64(len(e.Name))+5] ^= 0xff // flip a compressed byte
	require.ErrorIs(t, read(bad), ErrMalformed)

	bad = bytes.Clone(data)
	binary.LittleEndian.PutUint32(bad[e.HeaderOffset:], 0x12345678) // local signature
	require.ErrorIs(t, read(bad), ErrMalformed)

	bad = bytes.Clone(data)
	binary.LittleEndian.PutUint16(bad[e.HeaderOffset+8:], 99) // local method is ignored; central one counts
	require.NoError(t, read(bad))

	// A central directory that understates the inflated size: inflating stops there.
	cd := binary.LittleEndian.Uint32(data[len(data)-6:])
	bad = bytes.Clone(data)
	for p := int(cd); p+46 < len(bad); {
		nameLen := int(binary.LittleEndian.Uint16(bad[p+28:]))
		if string(bad[p+46:p+46+nameLen]) == e.Name {
			binary.LittleEndian.PutUint32(bad[p+24:], 10)
			break
		}
		p += 46 + nameLen + int(binary.LittleEndian.Uint16(bad[p+30:])) + int(binary.LittleEndian.Uint16(bad[p+32:]))
	}
	require.ErrorIs(t, read(bad), ErrMalformed)

	// Central directory with an entry whose offset overlaps the directory itself.
	cdOff := binary.LittleEndian.Uint32(data[len(data)-6:])
	bad = bytes.Clone(data)
	binary.LittleEndian.PutUint32(bad[cdOff+42:], cdOff+10)
	_, err := Open(bytes.NewReader(bad), int64(len(bad)))
	require.ErrorIs(t, err, ErrMalformed)
}

func TestPrefetchCoalesces(t *testing.T) {
	t.Parallel()
	data := labeltest.Docx(labeltest.Options{Custom: []labeltest.Label{labeltest.General()}, Padding: 2 << 20})
	rr := rangeio.New(bytes.NewReader(data), int64(len(data)), rangeio.Config{})
	a, err := Open(rr, int64(len(data)))
	require.NoError(t, err)
	require.NoError(t, a.Prefetch(nil, "_rels/.rels", "docProps/custom.xml", "[Content_Types].xml"))
	_, err = a.ReadEntry("_rels/.rels", 1<<20)
	require.NoError(t, err)
	_, err = a.ReadEntry("docProps/custom.xml", 1<<20)
	require.NoError(t, err)
	require.Equal(t, 2, rr.RoundTrips(), "tail, then the head parts together")
}

func TestRewrite(t *testing.T) {
	t.Parallel()
	data, _ := setup(t, labeltest.Options{GrowthHint: true})
	var out bytes.Buffer
	parts := map[string][]byte{
		"docProps/custom.xml": nil, // deleted
		"/docProps/new.xml":   []byte("<new/>"),
		"[Content_Types].xml": []byte("<Types/>"),
		"DOCPROPS/APP.XML":    []byte("<app/>"),
	}
	require.NoError(t, Rewrite(bytes.NewReader(data), int64(len(data)), parts, &out))
	zr, err := zip.NewReader(bytes.NewReader(out.Bytes()), int64(out.Len()))
	require.NoError(t, err)
	got := map[string]string{}
	var order []string
	for _, f := range zr.File {
		rc, err := f.Open()
		require.NoError(t, err)
		b, err := io.ReadAll(rc)
		require.NoError(t, err)
		got[f.Name] = string(b)
		order = append(order, f.Name)
	}
	require.Equal(t, "[Content_Types].xml", order[0])
	require.Equal(t, "<Types/>", got["[Content_Types].xml"])
	require.Equal(t, "<app/>", got["docProps/app.xml"], "replaced in place, original name kept")
	require.Equal(t, "<new/>", got["docProps/new.xml"])
	require.NotContains(t, got, "docProps/custom.xml")
	require.Contains(t, got["word/document.xml"], "w:document")
}

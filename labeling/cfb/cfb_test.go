package cfb

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func setup(t *testing.T) ([]byte, []Stream) {
	t.Helper()
	big := bytes.Repeat([]byte("0123456789abcdef"), 1000) // regular sectors
	streams := []Stream{
		{Path: "\x06DataSpaces/DataSpaceMap", Data: []byte("map")},
		{Path: "\x06DataSpaces/TransformInfo/LabelInfo", Data: bytes.Repeat([]byte("x"), 300)}, // mini stream
		{Path: "EncryptedPackage", Data: big},
		{Path: "Empty", Data: nil},
	}
	data, err := Build(streams)
	require.NoError(t, err)
	return data, streams
}

func TestBuildThenRead(t *testing.T) {
	t.Parallel()
	data, streams := setup(t)
	f, err := Open(bytes.NewReader(data), int64(len(data)))
	require.NoError(t, err)
	for _, s := range streams {
		e, ok := f.Find(splitPath(s.Path)...)
		require.True(t, ok, s.Path)
		got, err := f.ReadStream(e, 1<<20)
		require.NoError(t, err)
		require.Equal(t, len(s.Data), len(got), s.Path)
		require.True(t, bytes.Equal(s.Data, got), s.Path)
	}
	_, ok := f.Find("dataspaces")
	require.False(t, ok)
	e, ok := f.Find("encryptedpackage") // names compare case-insensitively
	require.True(t, ok)
	_, err = f.ReadStream(e, 100)
	require.ErrorIs(t, err, ErrMalformed, "a stream over the limit is refused")
	ds, _ := f.Find("\x06DataSpaces")
	require.Len(t, f.Children(ds), 2)
}

func splitPath(p string) []string { return strings.Split(p, "/") }

func TestHostile(t *testing.T) {
	t.Parallel()
	data, _ := setup(t)
	open := func(b []byte) error {
		f, err := Open(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return err
		}
		e, ok := f.Find("EncryptedPackage")
		require.True(t, ok)
		_, err = f.ReadStream(e, 1<<20)
		return err
	}
	// Every FAT entry points at sector 0: chains loop.
	bad := bytes.Clone(data)
	fatSect := binary.LittleEndian.Uint32(bad[0x4C:])
	off := (int(fatSect) + 1) * 512
	for i := 0; i < 128; i++ {
		binary.LittleEndian.PutUint32(bad[off+4*i:], 0)
	}
	require.ErrorIs(t, open(bad), ErrMalformed)

	bad = bytes.Clone(data)
	binary.LittleEndian.PutUint16(bad[0x1E:], 20)
	require.ErrorIs(t, open(bad), ErrMalformed)

	bad = bytes.Clone(data)
	binary.LittleEndian.PutUint32(bad[0x2C:], 1<<30) // FAT sector count
	require.ErrorIs(t, open(bad), ErrMalformed)

	require.ErrorIs(t, open(data[:600]), ErrMalformed)
	require.ErrorIs(t, open(data[:100]), ErrMalformed)

	// A directory whose child links point back at the root must not loop.
	bad = bytes.Clone(data)
	dirSect := binary.LittleEndian.Uint32(bad[0x30:])
	root := (int(dirSect) + 1) * 512
	for i := 1; i < 4; i++ {
		binary.LittleEndian.PutUint32(bad[root+128*i+0x44:], 0)
		binary.LittleEndian.PutUint32(bad[root+128*i+0x48:], 1)
	}
	f, err := Open(bytes.NewReader(bad), int64(len(bad)))
	require.NoError(t, err)
	require.NotPanics(t, func() { f.Children(f.Root()) })
}

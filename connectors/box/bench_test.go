package box_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/connectors/box"
	"github.com/labelgate/labelgate/connectors/box/emulator"
)

// BenchmarkReceive measures webhook verification and parsing: two HMACs per configured key
// and one JSON decode.
func BenchmarkReceive(b *testing.B) {
	var v vector
	for _, x := range loadVectors(b) {
		if x.Name == "valid-both" {
			v = x
		}
	}
	subs := &connectors.MemSubscriptions{}
	subs.Put(connectors.AppBox, "E1000", connectors.Subscription{ID: "wh-1", Drive: "100"})
	conn, err := box.New(box.Config{EnterpriseID: "E1000", PrimaryKey: v.PrimaryKey, SecondaryKey: v.SecondaryKey, Subscriptions: subs})
	require.NoError(b, err)
	req := v.request()
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(int64(len(req.Body)))
	for b.Loop() {
		if _, ns, err := conn.Receive(ctx, req); err != nil || len(ns) != 1 {
			b.Fatal(err)
		}
	}
}

// BenchmarkWalk walks a folder of 500 files against the emulator over loopback HTTP: one
// listing page and one folder collaboration lookup; ns/op is per walk.
func BenchmarkWalk(b *testing.B) {
	emu, err := emulator.New(emulator.Options{Manifest: manifest})
	require.NoError(b, err)
	b.Cleanup(emu.Close)
	folder, err := emu.AddFolder("0", "bulk")
	require.NoError(b, err)
	for i := range 500 {
		_, err := emu.AddFile(folder, fmt.Sprintf("f%03d.docx", i), []byte("x"), "")
		require.NoError(b, err)
	}
	conn, err := box.New(box.Config{EnterpriseID: emu.EnterpriseID(), ClientID: "client", ClientSecret: "secret",
		BaseURL: emu.APIURL(), UploadURL: emu.UploadURL(), TokenURL: emu.TokenURL(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(b, err)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		if err := conn.Walk(ctx, folder, "", func(connectors.File, string) error { n++; return nil }); err != nil || n != 500 {
			b.Fatal(n, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/500, "ns/file")
}

// BenchmarkReadAt measures one 4 KiB ranged read of an open file.
func BenchmarkReadAt(b *testing.B) {
	emu, err := emulator.New(emulator.Options{Manifest: manifest})
	require.NoError(b, err)
	b.Cleanup(emu.Close)
	conn, err := box.New(box.Config{EnterpriseID: emu.EnterpriseID(), ClientID: "client", ClientSecret: "secret",
		BaseURL: emu.APIURL(), UploadURL: emu.UploadURL(), TokenURL: emu.TokenURL()})
	require.NoError(b, err)
	obj, err := conn.Open(context.Background(), connectors.FileRef{ItemID: "1001"})
	require.NoError(b, err)
	buf := make([]byte, 4096)
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if _, err := obj.ReadAt(buf, 8192); err != nil {
			b.Fatal(err)
		}
	}
}

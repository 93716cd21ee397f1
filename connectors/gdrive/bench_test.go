package gdrive_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/connectors/gdrive"
	"github.com/labelgate/labelgate/connectors/gdrive/emulator"
)

// BenchmarkWalk measures listing 1,000 files in pages of 1,000 (Drive's maximum), with
// access mapping and cached folder paths: the cost per file of a full rescan, emulator included.
func BenchmarkWalk(b *testing.B) {
	f := setup(b, func(c *gdrive.Config) { c.PageSize = 1000 })
	folder, err := f.em.AddFile(emulator.FileSpec{Name: "bulk", Owner: alice, Folder: true})
	require.NoError(b, err)
	for i := range 1000 {
		_, err := f.em.AddFile(emulator.FileSpec{Name: fmt.Sprintf("f%d.docx", i), Owner: alice, Parent: folder,
			Content: "PK", Permissions: []emulator.Permission{{Type: "user", Role: "reader", Email: "x@partner.org"}}})
		require.NoError(b, err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		n := 0
		require.NoError(b, f.c.Walk(f.ctx, aliceDrv, "", func(connectors.File, string) error { n++; return nil }))
		require.Equal(b, 1006, n)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1006, "ns/file")
}

// BenchmarkReadAt measures one 4 KiB ranged read: one HTTP round trip to the emulator.
func BenchmarkReadAt(b *testing.B) {
	f := setup(b)
	obj, err := f.c.Open(f.ctx, ref(aliceDrv, "f-internal"))
	require.NoError(b, err)
	buf := make([]byte, 4096)
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		_, err := obj.ReadAt(buf, 1024)
		require.NoError(b, err)
	}
}

// BenchmarkReceive measures verifying one change notification (lookup + constant-time compare).
func BenchmarkReceive(b *testing.B) {
	f := setup(b)
	sub, err := f.c.Subscribe(f.ctx, connectors.Drive{ID: aliceDrv}, "http://127.0.0.1:1/unused")
	require.NoError(b, err)
	f.subs.Put(connectors.AppGDrive, "example.com", sub)
	h := http.Header{}
	h.Set("X-Goog-Channel-ID", sub.ID)
	h.Set("X-Goog-Channel-Token", sub.Secret)
	h.Set("X-Goog-Resource-ID", sub.Resource)
	h.Set("X-Goog-Resource-State", "change")
	h.Set("X-Goog-Message-Number", "42")
	req := connectors.Request{Header: h}
	b.ReportAllocs()
	for b.Loop() {
		_, n, err := f.c.Receive(f.ctx, req)
		if err != nil || len(n) != 1 {
			b.Fatal(err)
		}
	}
}

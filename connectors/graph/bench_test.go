package graph_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/connectors/graph/emulator"
)

// BenchmarkWalk measures the delta walk through the SDK against the emulator (1,000 docx
// files, 200 per page; nothing is shared, so hierarchical sharing reads no permissions).
func BenchmarkWalk(b *testing.B) {
	e := setupB(b, 200)
	for i := range 1000 {
		_, err := e.emu.AddFile("b!hr-documents", fmt.Sprintf("/f%d", i%10), fmt.Sprintf("d%d.docx", i), "", []byte("x"))
		require.NoError(b, err)
	}
	b.ResetTimer()
	for range b.N {
		n := 0
		require.NoError(b, e.sp.Walk(context.Background(), "b!hr-documents", "", func(connectors.File, string) error { n++; return nil }))
		require.Equal(b, 1000, n)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/file")
}

// BenchmarkReadAt measures one 64 KiB ranged read.
func BenchmarkReadAt(b *testing.B) {
	e := setupB(b, 100)
	id, err := e.emu.AddFile("b!hr-documents", "/", "big.bin", "", emulator.Generate("big", 4<<20))
	require.NoError(b, err)
	obj, err := e.sp.Open(context.Background(), connectors.FileRef{App: e.sp.App(), Tenant: e.sp.Tenant(), Drive: "b!hr-documents", ItemID: id})
	require.NoError(b, err)
	buf := make([]byte, 64<<10)
	b.SetBytes(int64(len(buf)))
	b.ResetTimer()
	for i := range b.N {
		_, err := obj.ReadAt(buf, int64(i%60)*(64<<10))
		require.NoError(b, err)
	}
}

func setupB(b *testing.B, page int) *env {
	return setup(b, emulator.Options{PageSize: page})
}

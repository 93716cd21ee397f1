package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func setup(t *testing.T) *Ingress {
	t.Helper()
	in, err := StartIngress(context.Background(), IngressConfig{Dir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = in.Close() })
	return in
}

func TestLoadAgainstRealIngressCountsAddUp(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	require.NoError(t, runMain(t.Context(), &out, Config{Rate: 200, Duration: time.Second, Conns: 4}, true, IngressConfig{}))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 4, out.String())
	for i, target := range []string{"labelgate", "bare"} {
		r, err := ParseReport(lines[i])
		require.NoError(t, err, lines[i])
		require.Equal(t, target, r.Target)
		require.Equal(t, 200, r.Sent)
		require.Equal(t, r.Sent, r.OK+r.Rejected+r.Errors)
		require.Equal(t, r.Sent, r.OK, "every signed notification acknowledged")
		require.Greater(t, r.Throughput, 0.0)
		require.LessOrEqual(t, r.P50, r.P90)
		require.LessOrEqual(t, r.P90, r.P99)
		require.LessOrEqual(t, r.P99, r.Max)
		require.Greater(t, r.Elapsed, 900*time.Millisecond, "sends are paced at the rate")
	}
	require.True(t, strings.HasPrefix(lines[2], "ratio throughput="))
	require.Equal(t, "durable acked=200 recorded=200 drives_marked=1", lines[3])
}

func TestLoadReachesTheStore(t *testing.T) {
	t.Parallel()
	in := setup(t)
	r, err := Run(t.Context(), Config{URL: in.URL, Key: in.Key, Rate: 100, Duration: time.Second / 2, Conns: 2})
	require.NoError(t, err)
	require.Equal(t, 50, r.OK)
	ds, err := in.Store.ChangedDrives(context.Background(), 10)
	require.NoError(t, err)
	require.Len(t, ds, 1, "the notices marked the webhook's drive changed")
	require.Equal(t, "0", ds[0].Drive)
	// Every delivery id was unique, so each was recorded as a first delivery.
	first, err := in.Store.FirstDelivery(context.Background(), "box|box:probe")
	require.NoError(t, err)
	require.True(t, first)
}

func TestLoadWithWrongKeyIsRejected(t *testing.T) {
	t.Parallel()
	in := setup(t)
	r, err := Run(t.Context(), Config{URL: in.URL, Key: "wrong", Rate: 50, Duration: time.Second / 2, Conns: 2})
	require.NoError(t, err)
	require.Equal(t, 25, r.Sent)
	require.Equal(t, 25, r.Rejected, "the real receiver verifies signatures")
	require.Zero(t, r.OK)
	ds, err := in.Store.ChangedDrives(context.Background(), 10)
	require.NoError(t, err)
	require.Empty(t, ds)
}

func TestParseReportRejectsGarbage(t *testing.T) {
	t.Parallel()
	_, err := ParseReport("target=x sent=1")
	require.Error(t, err)
	_, err = ParseReport("nonsense")
	require.Error(t, err)
	r := Report{Target: "t", Sent: 3, OK: 2, Errors: 1, Elapsed: time.Second, Throughput: 2, P50: time.Millisecond,
		P90: 2 * time.Millisecond, P99: 3 * time.Millisecond, Max: 4 * time.Millisecond}
	got, err := ParseReport(r.String())
	require.NoError(t, err)
	require.Equal(t, r, got)
}

// BenchmarkIngressAck measures labelgate's real ack path (Box signature check, delivery
// dedup and changed-drive write in SQLite) over loopback HTTP, one notification per op.
func BenchmarkIngressAck(b *testing.B) {
	in, err := StartIngress(context.Background(), IngressConfig{Dir: b.TempDir()})
	require.NoError(b, err)
	defer in.Close()
	b.ResetTimer()
	r, err := Run(b.Context(), Config{URL: in.URL, Key: in.Key, Rate: 1e9, Duration: time.Duration(b.N), Conns: 16})
	require.NoError(b, err)
	require.Equal(b, r.Sent, r.OK)
	b.ReportMetric(float64(r.P99.Microseconds()), "p99-µs")
}

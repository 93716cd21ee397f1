package chaos

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestInjectorRatesAndReplay(t *testing.T) {
	t.Parallel()
	cfg := Config{Seed: 42, Throttle: 0.2, ServerError: 0.05, Slow: 0.1, Latency: 50 * time.Millisecond,
		Drop: 0.1, Duplicate: 0.1, Reorder: 0.1}
	run := func() ([]Request, []Delivery, Stats) {
		var i Injector
		i.Set(cfg)
		var rs []Request
		var ds []Delivery
		for range 10000 {
			rs = append(rs, i.Request())
			ds = append(ds, i.Delivery())
		}
		return rs, ds, i.Stats()
	}
	rs, ds, st := run()
	rs2, ds2, st2 := run()
	require.Equal(t, rs, rs2, "the same seed replays the same faults")
	require.Equal(t, ds, ds2)
	require.Equal(t, st, st2)
	require.Equal(t, 10000, st.Requests)
	require.InDelta(t, 2000, st.Throttled, 200)
	require.InDelta(t, 500, st.ServerErrors, 100)
	require.InDelta(t, 1000, st.Slowed, 150)
	require.InDelta(t, 1000, st.Dropped, 150)
	for _, r := range rs {
		require.LessOrEqual(t, r.Delay, cfg.Latency)
		switch r.Status {
		case 0, 500, 502, 503:
			require.Zero(t, r.RetryAfter)
		case 429:
			require.Equal(t, time.Second, r.RetryAfter)
		default:
			t.Fatalf("unexpected status %d", r.Status)
		}
	}
	for _, d := range ds {
		if d.Drop {
			require.Zero(t, d.Copies)
		}
	}
}

func TestZeroInjectorIsQuiet(t *testing.T) {
	t.Parallel()
	var i Injector
	require.Equal(t, Request{}, i.Request())
	require.Equal(t, Delivery{Copies: 1}, i.Delivery())
	i.Set(Config{Seed: 1, Throttle: 1})
	require.Equal(t, 429, i.Request().Status)
	i.Set(Config{})
	require.Equal(t, Request{}, i.Request())
	require.Equal(t, 1, i.Stats().Throttled)
}

package pacer

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

func TestAIMD(t *testing.T) {
	t.Parallel()
	p := New(Options{Start: 20, Step: 1})
	p.Observe(false, 0)
	p.Observe(false, 0)
	if r := p.Rate(); r != 22 {
		t.Fatalf("rate after two successes = %v, want 22 (additive increase)", r)
	}
	p.Observe(true, 0)
	if r := p.Rate(); r != 11 {
		t.Fatalf("rate after a throttle = %v, want 11 (halved)", r)
	}
	for i := 0; i < 20; i++ {
		p.Observe(true, 0)
	}
	if r := p.Rate(); r != 0.5 {
		t.Fatalf("rate floor = %v, want 0.5", r)
	}
}

func TestWaitSpacesAndHoldsForRetryAfter(t *testing.T) {
	t.Parallel()
	p := New(Options{Start: 50}) // 20 ms apart
	ctx := context.Background()
	start := time.Now()
	for i := 0; i < 6; i++ {
		if err := p.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d < 90*time.Millisecond {
		t.Fatalf("6 requests at 50/s took %v, want ≥ 100 ms", d)
	}
	p.Observe(true, 300*time.Millisecond)
	start = time.Now()
	if err := p.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Fatalf("request after Retry-After 300ms went after %v", d)
	}
	cctx, cancel := context.WithCancel(ctx)
	p.Observe(true, time.Hour)
	cancel()
	if err := p.Wait(cctx); err == nil {
		t.Fatal("Wait ignored a canceled context")
	}
}

func TestTransportAdaptsToAnswers(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/oauth2/token" {
			return
		}
		if n.Add(1) == 2 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
		}
	}))
	t.Cleanup(srv.Close)
	p := New(Options{Start: 1000, Step: 10})
	c := &http.Client{Transport: p.Transport(nil)}
	for _, path := range []string{"/a", "/b", "/c", "/oauth2/token"} {
		resp, err := c.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	// 1000 → 1010 → 505 (the 429) → 515; the token request is not observed.
	if r := p.Rate(); r != 515 {
		t.Fatalf("rate = %v, want 515", r)
	}
}

// Replicas sharing a tenant: two pacers told they are two run at half the rate together one
// would alone, and probe upwards together at one pacer's step.
func TestSharedBudget(t *testing.T) {
	t.Parallel()
	a, b := New(Options{Start: 20, Step: 1}), New(Options{Start: 20, Step: 1})
	a.SetShare(2)
	b.SetShare(2)
	if sum := a.Rate() + b.Rate(); sum != 20 {
		t.Fatalf("two replicas start at %v together, want the documented 20", sum)
	}
	a.Observe(false, 0)
	b.Observe(false, 0)
	if sum := a.Rate() + b.Rate(); sum != 21 {
		t.Fatalf("after one success each the sum is %v, want 21 (one step between them)", sum)
	}
	b.SetShare(1) // a left: b takes the whole budget back
	if r := b.Rate(); r != 21 {
		t.Fatalf("alone again b runs at %v, want 21", r)
	}
	a.SetShare(0)
	if a.Share() != 1 {
		t.Fatalf("a share below 1 counts as alone, got %d", a.Share())
	}
}

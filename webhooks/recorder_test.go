package webhooks_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/internal/store/storetest"
	"github.com/labelgate/labelgate/webhooks"
)

// batchSink is a webhooks.Recorder on the store's group-commit batcher, the way the
// gateway's sink records drive notices.
type batchSink struct {
	b    *store.DeliveryBatcher
	mu   sync.Mutex
	fail error
}

func (k *batchSink) RecordNotice(ctx context.Context, key string, n connectors.Notice) (bool, error) {
	k.mu.Lock()
	fail := k.fail
	k.mu.Unlock()
	if fail != nil {
		return false, fail
	}
	return k.b.Record(ctx, store.Delivery{Key: key,
		Mark: &store.DriveMark{App: n.App, Tenant: n.Tenant, Drive: n.Drive, Reason: string(n.Kind)}})
}

func (k *batchSink) Notice(ctx context.Context, n connectors.Notice) error {
	_, err := k.RecordNotice(ctx, "", n)
	return err
}

func (k *batchSink) failWith(err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.fail = err
}

type recorderBundle struct {
	url  string
	st   *store.Store
	sink *batchSink
	reg  *prometheus.Registry
}

func setupRecorder(t *testing.T, be storetest.Backend) *recorderBundle {
	t.Helper()
	st := storetest.Open(t, be)
	x := &recorderBundle{st: st, sink: &batchSink{b: st.NewDeliveryBatcher(store.BatchOptions{})}, reg: prometheus.NewRegistry()}
	h := webhooks.New(webhooks.Config{
		Routes: []webhooks.Route{{Name: "box-main", App: connectors.AppBox, Receiver: hmacReceiver{key: []byte("k")}}},
		Sink:   x.sink,
		// A Dedup that must not be consulted: the Recorder dedups in the same transaction.
		Dedup:      failingDedup{},
		Logger:     slog.New(slog.DiscardHandler),
		Registerer: x.reg,
	})
	mux := http.NewServeMux()
	mux.Handle(webhooks.Prefix, h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	x.url = srv.URL + webhooks.Prefix + "box-main"
	return x
}

type failingDedup struct{}

func (failingDedup) FirstDelivery(context.Context, string) (bool, error) {
	return false, fmt.Errorf("dedup consulted beside a Recorder")
}

func (x *recorderBundle) post(body string) (int, error) {
	req, err := http.NewRequest(http.MethodPost, x.url, strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("X-Sig", sign(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func TestRecorderAcceptsEachConcurrentDeliveryOnce(t *testing.T) {
	t.Parallel()
	for _, be := range storetest.Backends() {
		t.Run(string(be.Name), func(t *testing.T) {
			t.Parallel()
			x := setupRecorder(t, be)
			const ids, copies = 30, 3
			var wg sync.WaitGroup
			codes := make(chan int, ids*copies)
			errs := make(chan error, ids*copies)
			for c := range copies {
				for i := range ids {
					wg.Go(func() {
						code, err := x.post(fmt.Sprintf(`{"drive":"d%d","id":"n%d"}`, (i+c)%4, i))
						codes <- code
						errs <- err
					})
				}
			}
			wg.Wait()
			close(codes)
			close(errs)
			for err := range errs {
				require.NoError(t, err)
			}
			for code := range codes {
				require.Equal(t, http.StatusAccepted, code)
			}
			require.Equal(t, float64(ids), testutil.ToFloat64(mustCounter(t, x.reg, "box-main", webhooks.OutcomeAccepted)))
			require.Equal(t, float64(ids*(copies-1)), testutil.ToFloat64(mustCounter(t, x.reg, "box-main", webhooks.OutcomeDuplicate)))
			ds, err := x.st.ChangedDrives(context.Background(), 10)
			require.NoError(t, err)
			require.NotEmpty(t, ds, "accepted notices marked their drives")
			for i := range ids {
				first, err := x.st.FirstDelivery(context.Background(), fmt.Sprintf("box-main|n%d", i))
				require.NoError(t, err)
				require.False(t, first, "delivery n%d was recorded before its ack", i)
			}
		})
	}
}

func TestRecorderFailureLeavesTheRetryAFirstDelivery(t *testing.T) {
	t.Parallel()
	for _, be := range storetest.Backends() {
		t.Run(string(be.Name), func(t *testing.T) {
			t.Parallel()
			x := setupRecorder(t, be)
			body := `{"drive":"d1","id":"n1"}`
			x.sink.failWith(fmt.Errorf("database down"))
			code, err := x.post(body)
			require.NoError(t, err)
			require.Equal(t, http.StatusServiceUnavailable, code, "the provider is asked to retry")
			x.sink.failWith(nil)
			code, err = x.post(body)
			require.NoError(t, err)
			require.Equal(t, http.StatusAccepted, code)
			require.Equal(t, 1.0, testutil.ToFloat64(mustCounter(t, x.reg, "box-main", webhooks.OutcomeAccepted)),
				"the retry is processed, not dropped as a duplicate")
			ds, err := x.st.ChangedDrives(context.Background(), 10)
			require.NoError(t, err)
			require.Len(t, ds, 1)
			require.Equal(t, "d1", ds[0].Drive)
		})
	}
}

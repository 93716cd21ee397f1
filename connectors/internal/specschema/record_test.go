package specschema

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRecorderCheckCoverage records a connector-side request, the emulator's answers and a
// notification through a real server, then checks them against a small schema.
func TestRecorderCheckCoverage(t *testing.T) {
	t.Parallel()
	rec := &Recorder{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /things", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		assert.JSONEq(t, `{"name":"a","extra":1}`, string(b), "the handler still reads the whole body")
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"id":7,"name":"a"}`)
	})
	mux.HandleFunc("GET /things/{id}", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "bytes") })
	mux.HandleFunc("DELETE /things/{id}", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	srv := httptest.NewServer(rec.Middleware(mux))
	defer srv.Close()
	hook := httptest.NewServer(rec.Receiver(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusAccepted) })))
	defer hook.Close()
	hc := &http.Client{Transport: rec.Transport(nil)}

	resp, err := hc.Post(srv.URL+"/things", "application/json", strings.NewReader(`{"name":"a","extra":1}`))
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.JSONEq(t, `{"id":7,"name":"a"}`, string(b), "the caller still reads the whole answer")
	resp, err = hc.Get(srv.URL + "/things/7")
	require.NoError(t, err)
	resp.Body.Close()
	resp, err = http.Post(hook.URL, "application/json", strings.NewReader(`{"kind":5}`))
	require.NoError(t, err)
	resp.Body.Close()

	ex := rec.Exchanges()
	require.Len(t, ex, 5) // connector POST and GET, emulator POST and GET, one notification
	str := &Schema{Name: "string", Kind: KindString}
	thing := &Schema{Name: "Thing", Kind: KindObject, Props: map[string]*Schema{"id": {Name: "integer", Kind: KindInteger}, "name": str}, Required: []string{"id"}}
	note := &Schema{Name: "Note", Kind: KindObject, Props: map[string]*Schema{"kind": str}}
	findings, checked := Check("test", ex, func(e Exchange, dir string) Expect {
		switch dir {
		case "notification":
			return Expect{Resource: "note", Schema: note}
		case "request":
			return Expect{Resource: "create thing", Schema: &Schema{Name: "NewThing", Kind: KindObject, Props: map[string]*Schema{"name": str}, Required: []string{"name"}}}
		}
		return Expect{Resource: "thing", Schema: thing}
	})
	require.Equal(t, 3, checked, "request, JSON answer, notification; the bytes answer is not JSON")
	var got []string
	for _, f := range findings {
		got = append(got, f.String())
	}
	require.Equal(t, []string{
		"test notification POST / (note): property /kind (schema string): JSON number, the description says string",
		"test request POST /things (create thing): property /extra (schema NewThing): property the description does not have",
	}, got)

	exercised, missing := Coverage([]string{"POST /things", "GET /things/{id}", "DELETE /things/{id}"}, ex)
	require.Equal(t, map[string]int{"POST /things": 1, "GET /things/{id}": 1}, exercised)
	require.Equal(t, []string{"DELETE /things/{id}"}, missing)
}

func TestRoutePatterns(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src := `package emu

import "net/http"

type S struct{}

func (s *S) routes() http.Handler {
	mux := http.NewServeMux()
	api := func(p string, h http.HandlerFunc) { mux.Handle(p, h) }
	mux.HandleFunc("GET /a/{id}", nil)
	api("POST /b", nil)
	mux.Handle("/mount/", nil)
	_ = fmt("not a route")
	return mux
}

func fmt(string) string { return "" }

func other() { http.HandleFunc("GET /elsewhere", nil) }
`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "emu.go"), []byte(src), 0o600))
	got, err := RoutePatterns(dir, "routes")
	require.NoError(t, err)
	require.Equal(t, []string{"/mount/", "GET /a/{id}", "POST /b"}, got)
	_, err = RoutePatterns(dir, "nosuch")
	require.Error(t, err)
}

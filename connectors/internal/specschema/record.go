package specschema

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"sync"
)

// Side says where an exchange was recorded.
type Side string

// Recording sides.
const (
	SideConnector    Side = "connector"    // by the connector's transport: what it sent and received
	SideEmulator     Side = "emulator"     // by the emulator's handler middleware: what it was asked and answered
	SideNotification Side = "notification" // by a receiver: a notification the emulator POSTed
)

// Exchange is one recorded request and its answer. Bodies are kept only when JSON.
type Exchange struct {
	Side     Side
	Method   string
	Path     string
	Query    string
	Pattern  string // the emulator's ServeMux pattern that served it ("" when none matched)
	Status   int
	ReqType  string // media type of the request body
	RespType string
	ReqBody  []byte
	RespBody []byte
}

// maxRecorded bounds a recorded body; larger JSON bodies are recorded truncated (and fail to
// parse, which the checker reports) so a runaway test cannot exhaust memory.
const maxRecorded = 4 << 20

// Recorder collects exchanges from any number of transports, middlewares and receivers.
type Recorder struct {
	mu sync.Mutex
	ex []Exchange
}

// Exchanges returns a copy of what was recorded so far.
func (r *Recorder) Exchanges() []Exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Exchange(nil), r.ex...)
}

func (r *Recorder) add(e Exchange) {
	r.mu.Lock()
	r.ex = append(r.ex, e)
	r.mu.Unlock()
}

// IsJSON reports whether a Content-Type is JSON (application/json or +json).
func IsJSON(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == "application/json" || len(mt) > 5 && mt[len(mt)-5:] == "+json"
}

func mediaType(ct string) string {
	mt, _, _ := mime.ParseMediaType(ct)
	return mt
}

// readBody reads up to maxRecorded bytes of a body and returns them with a body that replays
// them followed by the rest.
func readBody(body io.ReadCloser) ([]byte, io.ReadCloser, error) {
	if body == nil || body == http.NoBody {
		return nil, body, nil
	}
	b, err := io.ReadAll(io.LimitReader(body, maxRecorded))
	if err != nil {
		return b, body, err
	}
	return b, struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(b), body), body}, nil
}

// Transport wraps next (nil = http.DefaultTransport) so that every request a connector sends
// and every answer it receives is recorded (JSON and multipart bodies kept).
func (r *Recorder) Transport(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return roundTripper{r: r, next: next}
}

type roundTripper struct {
	r    *Recorder
	next http.RoundTripper
}

func keep(ct string) bool {
	mt := mediaType(ct)
	return IsJSON(ct) || mt == "multipart/form-data" || mt == "multipart/related"
}

func (t roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	e := Exchange{Side: SideConnector, Method: req.Method, Path: req.URL.Path, Query: req.URL.RawQuery, ReqType: req.Header.Get("Content-Type")}
	if keep(e.ReqType) && req.Body != nil {
		b, body, err := readBody(req.Body)
		if err != nil {
			return nil, err
		}
		// RoundTrip must not modify the caller's request: send a shallow copy with the replay.
		clone := req.Clone(req.Context())
		clone.Body = body
		req = clone
		e.ReqBody = b
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	e.Status = resp.StatusCode
	e.RespType = resp.Header.Get("Content-Type")
	if IsJSON(e.RespType) {
		b, body, rerr := readBody(resp.Body)
		resp.Body = body
		e.RespBody = b
		if rerr != nil {
			t.r.add(e)
			return resp, nil // the caller sees the read error itself
		}
	}
	t.r.add(e)
	return resp, nil
}

// Middleware wraps an emulator's handler so every request it serves and every answer it
// writes are recorded, with the ServeMux pattern that matched (http.Request.Pattern, set on
// the request by the mux and read here after it served).
func (r *Recorder) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		e := Exchange{Side: SideEmulator, Method: req.Method, Path: req.URL.Path, Query: req.URL.RawQuery, ReqType: req.Header.Get("Content-Type")}
		if keep(e.ReqType) {
			b, body, _ := readBody(req.Body)
			req.Body = body
			e.ReqBody = b
		}
		cw := &captureWriter{ResponseWriter: w}
		next.ServeHTTP(cw, req)
		e.Pattern = req.Pattern
		e.Status = cw.status
		if e.Status == 0 {
			e.Status = http.StatusOK
		}
		e.RespType = cw.Header().Get("Content-Type")
		if IsJSON(e.RespType) {
			e.RespBody = cw.buf.Bytes()
		}
		r.add(e)
	})
}

type captureWriter struct {
	http.ResponseWriter
	status int
	buf    bytes.Buffer
}

func (w *captureWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *captureWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if IsJSON(w.Header().Get("Content-Type")) && w.buf.Len() < maxRecorded {
		w.buf.Write(b[:min(len(b), maxRecorded-w.buf.Len())])
	}
	return w.ResponseWriter.Write(b)
}

// Flush lets streaming handlers flush through the capture.
func (w *captureWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Receiver wraps a webhook receiver so every notification POSTed to it is recorded with the
// receiver's answer status.
func (r *Recorder) Receiver(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		e := Exchange{Side: SideNotification, Method: req.Method, Path: req.URL.Path, Query: req.URL.RawQuery, ReqType: req.Header.Get("Content-Type")}
		b, body, _ := readBody(req.Body)
		req.Body = body
		e.ReqBody = b
		cw := &captureWriter{ResponseWriter: w}
		next.ServeHTTP(cw, req)
		e.Status = cw.status
		if e.Status == 0 {
			e.Status = http.StatusOK
		}
		r.add(e)
	})
}

// MultipartPart returns an Extract function that takes the named part of a multipart body.
func MultipartPart(name string) func([]byte, string) ([]byte, error) {
	return func(body []byte, ct string) ([]byte, error) {
		_, params, err := mime.ParseMediaType(ct)
		if err != nil {
			return nil, err
		}
		mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		for {
			p, err := mr.NextPart()
			if err != nil {
				return nil, fmt.Errorf("no %q part in the multipart body: %w", name, err)
			}
			if p.FormName() == name {
				return io.ReadAll(io.LimitReader(p, maxRecorded))
			}
		}
	}
}

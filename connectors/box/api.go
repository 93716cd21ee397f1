package box

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"

	"github.com/labelgate/labelgate/connectors"
)

// This file is a thin typed client for the part of the Box REST API v2.0 labelgate uses.
// The official SDK (github.com/box/box-go-sdk-gen) is not reachable from this build's module
// proxy; every Box call goes through api so the SDK can replace it in one place.

// APIError is a Box error response.
type APIError struct {
	Status    int
	Code      string // Box's error code, e.g. "not_found", "rate_limit_exceeded"
	Message   string
	RequestID string
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("box: HTTP %d", e.Status)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.RequestID != "" {
		s += " (request " + e.RequestID + ")"
	}
	return s
}

// ErrNotReady means Box accepted a download but the content is not ready yet (202).
var ErrNotReady = errors.New("box: content not ready yet")

// request is one API call. body is replayable so retries resend it; stream is not, so a
// request carrying one is tried once.
type request struct {
	op          string
	method      string
	url         string
	query       url.Values
	body        []byte
	stream      io.Reader
	contentType string
	header      http.Header // extra request headers (If-Match)
	// ok lists statuses that are not errors; default 200, 201, 204.
	ok []int
}

type api struct {
	// http is the authenticated client (never following redirects); newAuthed builds a
	// fresh one, with a new token, when Box rejects the cached token.
	http       atomic.Pointer[http.Client]
	newAuthed  func() *http.Client
	plain      *http.Client // for pre-signed download URLs: no token leaves for another host
	base       string
	uploadBase string
	log        *slog.Logger
	now        func() time.Time
	retries    int
	backoff    time.Duration
	maxWait    time.Duration
}

// call sends r through the pacer: transient failures are retried with jittered exponential
// backoff, throttling is waited out when Box asks for no longer than maxWait, anything else
// comes back as a *connectors.Error. On success out (if not nil) holds the decoded body and
// the returned response's body is already closed.
func (a *api) call(ctx context.Context, r request, out any) (*http.Response, error) {
	var lastErr error
	for attempt := 0; ; attempt++ {
		resp, err := a.do(ctx, r, out)
		if err == nil {
			return resp, nil
		}
		lastErr = err
		wait, retry := a.shouldRetry(ctx, err, attempt)
		if !retry || r.stream != nil {
			return resp, lastErr
		}
		a.log.DebugContext(ctx, "box: retrying", "op", r.op, "attempt", attempt+1, "wait", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// shouldRetry decides whether a failed call is worth repeating, and after how long.
func (a *api) shouldRetry(ctx context.Context, err error, attempt int) (time.Duration, bool) {
	if ctx.Err() != nil || attempt >= a.retries {
		return 0, false
	}
	var ce *connectors.Error
	if !errors.As(err, &ce) {
		return 0, false
	}
	switch ce.Kind {
	case connectors.KindThrottled:
		if ce.RetryAfter > a.maxWait {
			return 0, false // the caller (queue) waits it out without holding a worker
		}
		if ce.RetryAfter > 0 {
			return ce.RetryAfter, true
		}
	case connectors.KindTransient:
	default:
		return 0, false
	}
	d := a.backoff << attempt
	return d/2 + rand.N(d/2+1), true
}

func (a *api) do(ctx context.Context, r request, out any) (*http.Response, error) {
	u := r.url
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	var body io.Reader
	switch {
	case r.stream != nil:
		body = r.stream
	case r.body != nil:
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, body)
	if err != nil {
		return nil, connectors.Errorf(connectors.KindInvalid, r.op, 0, 0, err)
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	req.Header.Set("Accept", "application/json")
	for k, v := range r.header {
		req.Header[k] = v
	}
	client := a.http.Load()
	resp, err := client.Do(req)
	if err != nil {
		return nil, a.classifyTransport(ctx, r.op, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized && r.stream == nil {
		// A revoked or expired token stays cached until its nominal expiry: drop it, and
		// let the pacer retry with a new one.
		a.http.CompareAndSwap(client, a.newAuthed())
		return resp, connectors.Errorf(connectors.KindTransient, r.op, resp.StatusCode, 0, &APIError{Status: resp.StatusCode, Code: "unauthorized"})
	}
	if !statusOK(resp.StatusCode, r.ok) {
		return resp, a.classify(r.op, resp)
	}
	if out != nil && resp.StatusCode != http.StatusNoContent {
		if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(out); err != nil {
			return resp, connectors.Errorf(connectors.KindTransient, r.op, resp.StatusCode, 0, fmt.Errorf("decode response: %w", err))
		}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16)) // let the connection be reused
	return resp, nil
}

func statusOK(status int, ok []int) bool {
	if len(ok) == 0 {
		return status == http.StatusOK || status == http.StatusCreated || status == http.StatusNoContent
	}
	for _, s := range ok {
		if s == status {
			return true
		}
	}
	return false
}

// classify turns a Box error response into a *connectors.Error wrapping an *APIError.
func (a *api) classify(op string, resp *http.Response) error {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	ae := &APIError{Status: resp.StatusCode}
	var we wireError
	if json.Unmarshal(raw, &we) == nil && we.Type == "error" {
		ae.Code, ae.Message, ae.RequestID = we.Code, we.Message, we.RequestID
	} else if len(raw) > 0 {
		ae.Message = strings.TrimSpace(string(raw[:min(len(raw), 200)]))
	}
	retryAfter := connectors.ParseRetryAfter(resp.Header.Get("Retry-After"), a.now())
	kind := connectors.ClassifyHTTP(resp.StatusCode)
	switch {
	case resp.StatusCode >= 500 && retryAfter > 0:
		kind = connectors.KindThrottled
	case resp.StatusCode == http.StatusPreconditionFailed:
		kind = connectors.KindChanged // If-Match refused: the file changed since it was read
	}
	return connectors.Errorf(kind, op, resp.StatusCode, retryAfter, ae)
}

// classifyTransport classifies an error from the HTTP client: a network failure, or a
// failure to obtain a token.
func (a *api) classifyTransport(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		kind := connectors.ClassifyHTTP(re.Response.StatusCode)
		if re.Response.StatusCode == http.StatusBadRequest || re.Response.StatusCode == http.StatusUnauthorized {
			kind = connectors.KindPermission // bad client id/secret or enterprise: retrying will not help
		}
		return connectors.Errorf(kind, op+": token", re.Response.StatusCode, 0, err)
	}
	return connectors.Errorf(connectors.KindTransient, op, 0, 0, err)
}

func (a *api) get(ctx context.Context, op, path string, q url.Values, out any) error {
	_, err := a.call(ctx, request{op: op, method: http.MethodGet, url: a.base + path, query: q}, out)
	return err
}

func (a *api) sendJSON(ctx context.Context, op, method, path, contentType string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return connectors.Errorf(connectors.KindInvalid, op, 0, 0, err)
	}
	if contentType == "" {
		contentType = "application/json"
	}
	_, err = a.call(ctx, request{op: op, method: method, url: a.base + path, body: b, contentType: contentType}, out)
	return err
}

// Endpoints.

func (a *api) folder(ctx context.Context, id, fields string) (wireItem, error) {
	var it wireItem
	err := a.get(ctx, "box get folder", "/folders/"+url.PathEscape(id), url.Values{"fields": {fields}}, &it)
	return it, err
}

func (a *api) folderItems(ctx context.Context, id, marker string, limit int, fields string) (wireItems, error) {
	q := url.Values{"usemarker": {"true"}, "limit": {strconv.Itoa(limit)}, "fields": {fields}}
	if marker != "" {
		q.Set("marker", marker)
	}
	var out wireItems
	err := a.get(ctx, "box list folder", "/folders/"+url.PathEscape(id)+"/items", q, &out)
	return out, err
}

func (a *api) file(ctx context.Context, id, fields string) (wireItem, error) {
	var it wireItem
	err := a.get(ctx, "box get file", "/files/"+url.PathEscape(id), url.Values{"fields": {fields}}, &it)
	return it, err
}

// collaborations lists every collaboration on a file or folder ("files" or "folders").
func (a *api) collaborations(ctx context.Context, kind, id string) ([]wireCollaboration, error) {
	var all []wireCollaboration
	marker := ""
	for {
		q := url.Values{"limit": {"1000"}, "fields": {"role,status,accessible_by,invite_email,expires_at"}}
		if marker != "" {
			q.Set("marker", marker)
		}
		var page wireCollaborations
		if err := a.get(ctx, "box list collaborations", "/"+kind+"/"+url.PathEscape(id)+"/collaborations", q, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Entries...)
		if page.NextMarker == "" || len(page.Entries) == 0 {
			return all, nil
		}
		marker = page.NextMarker
	}
}

// setSharedLink creates (link != nil) or removes (nil) a file's shared link with PUT
// /files/{id}, and returns the file's shared_link as Box now reports it.
func (a *api) setSharedLink(ctx context.Context, fileID string, link *wireSharedLinkRequest) (wireItem, error) {
	op := "box remove shared link"
	if link != nil {
		op = "box create shared link"
	}
	b, err := json.Marshal(wireSharedLinkUpdate{SharedLink: link})
	if err != nil {
		return wireItem{}, connectors.Errorf(connectors.KindInvalid, op, 0, 0, err)
	}
	var it wireItem
	_, err = a.call(ctx, request{op: op, method: http.MethodPut, url: a.base + "/files/" + url.PathEscape(fileID),
		query: url.Values{"fields": {"shared_link"}}, body: b, contentType: "application/json"}, &it)
	return it, err
}

// createCollaboration invites a user or group to an item without notifying them (notify=false:
// restoring a grant labelgate removed is no new invitation).
func (a *api) createCollaboration(ctx context.Context, in wireCollaborationCreate) (wireCollaboration, error) {
	op := "box create collaboration"
	b, err := json.Marshal(in)
	if err != nil {
		return wireCollaboration{}, connectors.Errorf(connectors.KindInvalid, op, 0, 0, err)
	}
	var out wireCollaboration
	_, err = a.call(ctx, request{op: op, method: http.MethodPost, url: a.base + "/collaborations",
		query: url.Values{"notify": {"false"}, "fields": {"role,status,accessible_by,invite_email,expires_at"}}, body: b, contentType: "application/json"}, &out)
	return out, err
}

func (a *api) deleteCollaboration(ctx context.Context, id string) error {
	_, err := a.call(ctx, request{op: "box delete collaboration", method: http.MethodDelete, url: a.base + "/collaborations/" + url.PathEscape(id)}, nil)
	return err
}

func (a *api) events(ctx context.Context, stream EventStream, position string, limit int) (wireEvents, error) {
	q := url.Values{"stream_type": {string(stream)}, "stream_position": {position}, "limit": {strconv.Itoa(limit)}}
	var out wireEvents
	err := a.get(ctx, "box events", "/events", q, &out)
	return out, err
}

// downloadURL asks Box's download endpoint for want bytes at off: Box answers 302 with the
// pre-signed location that serves them (the range header travels with the request, as
// box-openapi.json documents it, for a client that follows), or 202 with Retry-After while
// the content is not ready.
func (a *api) downloadURL(ctx context.Context, id string, off, want int64) (string, error) {
	op := "box download"
	resp, err := a.call(ctx, request{op: op, method: http.MethodGet, url: a.base + "/files/" + url.PathEscape(id) + "/content",
		header: http.Header{"Range": {fmt.Sprintf("bytes=%d-%d", off, off+want-1)}},
		ok:     []int{http.StatusFound, http.StatusAccepted}}, nil)
	if err != nil {
		return "", err
	}
	if resp.StatusCode == http.StatusAccepted {
		ra := connectors.ParseRetryAfter(resp.Header.Get("Retry-After"), a.now())
		if ra <= 0 {
			ra = time.Second
		}
		return "", connectors.Errorf(connectors.KindThrottled, op, resp.StatusCode, ra, ErrNotReady)
	}
	loc, err := resp.Location()
	if err != nil {
		return "", connectors.Errorf(connectors.KindTransient, op, resp.StatusCode, 0, fmt.Errorf("302 without a usable Location: %w", err))
	}
	return loc.String(), nil
}

// readRange reads len(p) bytes at off from a pre-signed download URL in one round trip.
func (a *api) readRange(ctx context.Context, loc string, p []byte, off int64) (int, error) {
	op := "box read"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, loc, nil)
	if err != nil {
		return 0, connectors.Errorf(connectors.KindInvalid, op, 0, 0, err)
	}
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", off, off+int64(len(p))-1))
	resp, err := a.plain.Do(req)
	if err != nil {
		return 0, a.classifyTransport(ctx, op, err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusPartialContent:
	case http.StatusOK:
		// The server ignored Range: skip to off in the full body.
		if _, err := io.CopyN(io.Discard, resp.Body, off); err != nil {
			return 0, connectors.Errorf(connectors.KindTransient, op, resp.StatusCode, 0, err)
		}
	case http.StatusRequestedRangeNotSatisfiable:
		return 0, io.EOF
	default:
		return 0, a.classify(op, resp)
	}
	n, err := io.ReadFull(resp.Body, p)
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return n, io.EOF
	}
	if err != nil {
		return n, connectors.Errorf(connectors.KindTransient, op, resp.StatusCode, 0, err)
	}
	return n, nil
}

func classificationPath(fileID string) string {
	return "/files/" + url.PathEscape(fileID) + "/metadata/" + classificationScope + "/" + classificationTemplate
}

func (a *api) classificationSchema(ctx context.Context) (wireTemplate, error) {
	var t wireTemplate
	err := a.get(ctx, "box classification schema", "/metadata_templates/"+classificationScope+"/"+classificationTemplate+"/schema", nil, &t)
	return t, err
}

func (a *api) getClassification(ctx context.Context, fileID string) (wireClassification, error) {
	var c wireClassification
	err := a.get(ctx, "box get classification", classificationPath(fileID), nil, &c)
	return c, err
}

func (a *api) createClassification(ctx context.Context, fileID, key string) error {
	return a.sendJSON(ctx, "box create classification", http.MethodPost, classificationPath(fileID), "",
		map[string]string{classificationField: key}, nil)
}

func (a *api) replaceClassification(ctx context.Context, fileID, key string) error {
	return a.sendJSON(ctx, "box update classification", http.MethodPut, classificationPath(fileID), "application/json-patch+json",
		[]wirePatchOp{{Op: "replace", Path: "/" + classificationField, Value: key}}, nil)
}

func (a *api) deleteClassification(ctx context.Context, fileID string) error {
	_, err := a.call(ctx, request{op: "box delete classification", method: http.MethodDelete, url: a.base + classificationPath(fileID)}, nil)
	return err
}

// uploadVersion stores new content for a file: a multipart body with the attributes part
// first, as Box requires, streamed so large files are not held in memory. The name is left
// out of the attributes, so the file keeps its own.
// ifMatch, when set, is the file's etag as last read: Box refuses the upload with 412 when
// the file changed since.
func (a *api) uploadVersion(ctx context.Context, fileID, ifMatch string, content io.Reader) (wireItems, error) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		err := func() error {
			attrs, err := json.Marshal(wireUploadAttributes{})
			if err != nil {
				return err
			}
			if err := mw.WriteField("attributes", string(attrs)); err != nil {
				return err
			}
			fw, err := mw.CreateFormFile("file", "content")
			if err != nil {
				return err
			}
			if _, err := io.Copy(fw, content); err != nil {
				return err
			}
			return mw.Close()
		}()
		pw.CloseWithError(err)
	}()
	var out wireItems
	var h http.Header
	if ifMatch != "" {
		h = http.Header{"If-Match": {ifMatch}}
	}
	_, err := a.call(ctx, request{op: "box upload", method: http.MethodPost,
		url: a.uploadBase + "/files/" + url.PathEscape(fileID) + "/content", stream: pr, contentType: mw.FormDataContentType(), header: h}, &out)
	pr.CloseWithError(errors.New("upload finished")) // unblock the writer if the call ended early
	return out, err
}

func (a *api) createWebhook(ctx context.Context, w wireWebhook) (wireWebhook, error) {
	var out wireWebhook
	err := a.sendJSON(ctx, "box create webhook", http.MethodPost, "/webhooks", "", w, &out)
	return out, err
}

// updateWebhook changes a webhook's address and triggers (PUT /webhooks/{id}).
func (a *api) updateWebhook(ctx context.Context, id string, u wireWebhookUpdate) (wireWebhook, error) {
	var out wireWebhook
	err := a.sendJSON(ctx, "box update webhook", http.MethodPut, "/webhooks/"+url.PathEscape(id), "", u, &out)
	return out, err
}

func (a *api) webhook(ctx context.Context, id string) (wireWebhook, error) {
	var out wireWebhook
	err := a.get(ctx, "box get webhook", "/webhooks/"+url.PathEscape(id), nil, &out)
	return out, err
}

func (a *api) webhooks(ctx context.Context) ([]wireWebhook, error) {
	var all []wireWebhook
	marker := ""
	for {
		q := url.Values{"limit": {"200"}}
		if marker != "" {
			q.Set("marker", marker)
		}
		var page wireWebhooks
		if err := a.get(ctx, "box list webhooks", "/webhooks", q, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Entries...)
		if page.NextMarker == "" || len(page.Entries) == 0 {
			return all, nil
		}
		marker = page.NextMarker
	}
}

func (a *api) deleteWebhook(ctx context.Context, id string) error {
	_, err := a.call(ctx, request{op: "box delete webhook", method: http.MethodDelete, url: a.base + "/webhooks/" + url.PathEscape(id)}, nil)
	return err
}

// apiErr returns the Box error inside err, if any.
func apiErr(err error) (*APIError, bool) {
	var ae *APIError
	ok := errors.As(err, &ae)
	return ae, ok
}

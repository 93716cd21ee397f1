package labeling_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/labelgate/labelgate/connectors"
)

// fakeClock is a manual clock: Sleep records the wait and moves time on at once.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{now: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	c.mu.Unlock()
	return ctx.Err()
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func (c *fakeClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

// step is one scripted provider answer: err is returned; after says whether the operation
// took effect before the error (an ambiguous timeout).
type step struct {
	err   error
	after bool
	// landed, on a write, runs once the write took effect, before the call returns: a test
	// blocks in it to stand for a process killed between the write and its record.
	landed func()
}

type memFile struct {
	file    connectors.File
	label   connectors.LabelState
	content []byte
}

// memConn is a test double of a provider: an in-memory file map behind the connector
// contract, with scripted error sequences per operation.
type memConn struct {
	app    connectors.App
	tenant string

	mu      sync.Mutex
	files   map[string]*memFile
	script  map[string][]step // op ("stat", "read", "apply", "remove", "upload") → next answers
	writes  int               // writes that took effect
	calls   map[string]int
	applied []string // item ids in the order their label writes took effect
}

func newMemConn(app connectors.App, tenant string) *memConn {
	return &memConn{app: app, tenant: tenant, files: map[string]*memFile{}, script: map[string][]step{}, calls: map[string]int{}}
}

func (m *memConn) ref(item string) connectors.FileRef {
	return connectors.FileRef{App: m.app, Tenant: m.tenant, Drive: "d1", ItemID: item}
}

func (m *memConn) add(item, name string, size int64, label connectors.LabelState) connectors.File {
	m.mu.Lock()
	defer m.mu.Unlock()
	f := connectors.File{Ref: m.ref(item), Path: "/Shared", Name: name, Size: size, ETag: "e1", Owner: "ann@contoso.com"}
	m.files[item] = &memFile{file: f, label: label}
	return f
}

// addContent adds a file whose label lives in its content (embedded mode).
func (m *memConn) addContent(item, name string, content []byte) connectors.File {
	f := m.add(item, name, int64(len(content)), connectors.LabelState{})
	m.mu.Lock()
	defer m.mu.Unlock()
	m.files[item].content = content
	return f
}

// Content returns a file's current bytes.
func (m *memConn) Content(item string) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]byte(nil), m.files[item].content...)
}

func (m *memConn) fail(op string, steps ...step) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.script[op] = append(m.script[op], steps...)
}

// next pops the scripted answer of op; the caller holds mu.
func (m *memConn) next(op string) step {
	m.calls[op]++
	s := m.script[op]
	if len(s) == 0 {
		return step{}
	}
	m.script[op] = s[1:]
	return s[0]
}

func (m *memConn) Writes() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.writes
}

func (m *memConn) Calls(op string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls[op]
}

func (m *memConn) Applied() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.applied...)
}

func (m *memConn) Label(item string) connectors.LabelState {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.files[item].label
}

func (m *memConn) App() connectors.App { return m.app }
func (m *memConn) Tenant() string      { return m.tenant }
func (m *memConn) Drives(context.Context) ([]connectors.Drive, error) {
	return []connectors.Drive{{ID: "d1", Tenant: m.tenant}}, nil
}
func (m *memConn) Walk(context.Context, string, string, func(connectors.File, string) error) error {
	return connectors.ErrUnsupported
}
func (m *memConn) Changes(context.Context, string, string, func(connectors.File) error) (string, error) {
	return "", connectors.ErrUnsupported
}

func notFound(op string) error {
	return connectors.Errorf(connectors.KindNotFound, op, 404, 0, errors.New("no such item"))
}

func (m *memConn) Stat(_ context.Context, ref connectors.FileRef) (connectors.File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.next("stat"); s.err != nil {
		return connectors.File{}, s.err
	}
	f, ok := m.files[ref.ItemID]
	if !ok {
		return connectors.File{}, notFound("stat")
	}
	return f.file, nil
}

type memObject struct{ *bytes.Reader }

func (memObject) Close() error { return nil }

func (m *memConn) Open(_ context.Context, ref connectors.FileRef) (connectors.Object, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.next("open"); s.err != nil {
		return nil, s.err
	}
	f, ok := m.files[ref.ItemID]
	if !ok {
		return nil, notFound("open")
	}
	return memObject{bytes.NewReader(append([]byte(nil), f.content...))}, nil
}

func (m *memConn) Upload(_ context.Context, ref connectors.FileRef, content io.Reader, size int64) error {
	b, err := io.ReadAll(content)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.next("upload")
	if s.err != nil && !s.after {
		return s.err
	}
	f, ok := m.files[ref.ItemID]
	if !ok {
		return notFound("upload")
	}
	f.content = b
	m.writes++
	m.applied = append(m.applied, ref.ItemID)
	return s.err
}

// nativeConn adds the native label API.
type nativeConn struct{ *memConn }

var (
	_ connectors.Labeler   = nativeConn{}
	_ connectors.Uploader  = (*memConn)(nil)
	_ connectors.Connector = (*memConn)(nil)
)

func (n nativeConn) Catalog(context.Context) ([]connectors.Label, error) { return nil, nil }

func (n nativeConn) ReadLabel(_ context.Context, ref connectors.FileRef) (connectors.LabelState, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if s := n.next("read"); s.err != nil {
		return connectors.LabelState{}, s.err
	}
	f, ok := n.files[ref.ItemID]
	if !ok {
		return connectors.LabelState{}, notFound("read label")
	}
	return f.label, nil
}

func (n nativeConn) write(ref connectors.FileRef, op string, ls connectors.LabelState) error {
	n.mu.Lock()
	s := n.next(op)
	if s.err != nil && !s.after {
		n.mu.Unlock()
		return s.err
	}
	f, ok := n.files[ref.ItemID]
	if !ok {
		n.mu.Unlock()
		return notFound(op)
	}
	f.label = ls
	n.writes++
	n.applied = append(n.applied, ref.ItemID)
	n.mu.Unlock()
	if s.landed != nil {
		s.landed()
	}
	return s.err
}

// setLabel changes a file's label at the provider as a user would: no write is counted.
func (m *memConn) setLabel(item string, ls connectors.LabelState) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.files[item].label = ls
}

func (n nativeConn) ApplyLabel(_ context.Context, ref connectors.FileRef, labelID string, opts connectors.ApplyOptions) error {
	return n.write(ref, "apply", connectors.LabelState{LabelID: labelID, Tenant: ref.Tenant, Method: opts.Method})
}

func (n nativeConn) RemoveLabel(_ context.Context, ref connectors.FileRef, _ connectors.ApplyOptions) error {
	return n.write(ref, "remove", connectors.LabelState{})
}

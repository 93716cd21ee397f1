package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	absser "github.com/microsoft/kiota-abstractions-go/serialization"
	kjson "github.com/microsoft/kiota-serialization-json-go"
	"github.com/microsoftgraph/msgraph-sdk-go/drives"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/connectors/graph/emulator"
)

// kiotaTree is the oracle: kiota-serialization-json-go's own loader.
func kiotaTree(b []byte) (*kjson.JsonParseNode, error) { return kjson.NewJsonParseNode(b) }

// sameTree requires both loaders to refuse b, or to build equal trees from it. The trees are
// compared whole, unexported values included (reflect.DeepEqual), so every later step — kiota's
// own field assignment — sees the same input.
func sameTree(t testing.TB, b []byte) {
	t.Helper()
	want, werr := kiotaTree(b)
	got, gerr := loadJSONTree(b)
	if werr != nil || gerr != nil {
		require.Equalf(t, werr != nil, gerr != nil, "kiota: %v; labelgate: %v; input %q", werr, gerr, b)
		return
	}
	require.Equalf(t, want, got, "input %q", b)
}

// recordingTransport keeps the bodies of the Graph responses whose path contains one of its
// markers, as the connector receives them.
type recordingTransport struct {
	mu     sync.Mutex
	marks  []string
	bodies map[string][][]byte
}

func (r *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	for _, m := range r.marks {
		if strings.Contains(req.URL.Path, m) {
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				return nil, err
			}
			resp.Body = io.NopCloser(bytes.NewReader(b))
			r.mu.Lock()
			r.bodies[m] = append(r.bodies[m], b)
			r.mu.Unlock()
		}
	}
	return resp, nil
}

// emulatorBodies walks a SharePoint library of files shared every way the emulator knows
// (links of each scope, people, guests, expiring grants, inherited grants) and returns the
// delta pages and permission lists the connector read.
func emulatorBodies(t testing.TB, files int) (delta, perms [][]byte) {
	t.Helper()
	emu, err := emulator.New(emulator.Options{PageSize: 200})
	require.NoError(t, err)
	t.Cleanup(emu.Close)
	const drive = "b!hr-documents"
	_, err = emu.ShareFolder(drive, "/shared", true, emulator.Share{Email: "ann@contoso.com", Role: "write"})
	require.NoError(t, err)
	expires := time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range files {
		id, err := emu.AddFile(drive, fmt.Sprintf("/shared/f%d", i%7), fmt.Sprintf("Résumé %d \u00e9t\u00e9.docx", i), "", []byte("x"))
		require.NoError(t, err)
		switch i % 5 {
		case 0:
			require.NoError(t, emu.SetSharing(id, emulator.Share{Link: "anonymous", Role: "write", Expires: expires}))
		case 1:
			require.NoError(t, emu.SetSharing(id, emulator.Share{Link: "organization"}, emulator.Share{Email: "guest@fabrikam.com", Guest: true}))
		case 2:
			require.NoError(t, emu.SetSharing(id, emulator.Share{Link: "users", Email: "bob@contoso.com"}))
		}
	}
	rec := &recordingTransport{marks: []string{"/delta", "/permissions"}, bodies: map[string][][]byte{}}
	c, err := NewSharePoint(Config{
		TenantID: emu.TenantID(), BaseURL: emu.GraphURL(), AuthURL: emu.URL(),
		Domains:    []string{"contoso.com"},
		HTTPClient: &http.Client{Transport: rec, Timeout: time.Minute},
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	require.NoError(t, err)
	n := 0
	require.NoError(t, c.Walk(context.Background(), drive, "", func(connectors.File, string) error { n++; return nil }))
	require.Equal(t, files, n)
	require.NotEmpty(t, rec.bodies["/delta"])
	require.NotEmpty(t, rec.bodies["/permissions"])
	return rec.bodies["/delta"], rec.bodies["/permissions"]
}

// TestJSONTreeMatchesKiota holds the loader to kiota's on Microsoft's documented example
// responses, on hostile JSON, and on the emulator's delta pages and permission lists; and the
// SDK's models decoded from either tree are the same.
func TestJSONTreeMatchesKiota(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/json/*.json")
	require.NoError(t, err)
	require.Len(t, files, 4)
	docs := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		docs[filepath.Base(f)] = b
		sameTree(t, b)
	}
	delta, perms := emulatorBodies(t, 120)
	for _, b := range delta {
		sameTree(t, b)
	}
	for _, b := range perms {
		sameTree(t, b)
	}

	// The SDK's models through both trees, written back out by kiota's writer.
	deltaBodies := append([][]byte{docs["docs-delta-first.json"], docs["docs-delta-last.json"]}, delta...)
	for _, b := range deltaBodies {
		sameModel(t, b, drives.CreateItemItemsItemDeltaGetResponseFromDiscriminatorValue)
	}
	permBodies := append([][]byte{docs["docs-permissions.json"]}, perms...)
	for _, b := range permBodies {
		sameModel(t, b, models.CreatePermissionCollectionResponseFromDiscriminatorValue)
	}

	// What the documented examples hold, read through the new tree.
	v, err := decodeWith(docs["docs-permissions.json"], models.CreatePermissionCollectionResponseFromDiscriminatorValue)
	require.NoError(t, err)
	ps := v.(models.PermissionCollectionResponseable).GetValue()
	require.Len(t, ps, 3)
	require.Equal(t, "edit", *ps[0].GetLink().GetTypeEscaped())
	require.Equal(t, "John Doe", *ps[1].GetGrantedTo().GetUser().GetDisplayName())
	require.Equal(t, "/drive/root:/Documents", *ps[1].GetInheritedFrom().GetPath())
	require.Equal(t, "Contoso Time Manager", *ps[2].GetLink().GetApplication().GetDisplayName())
}

func decodeWith(b []byte, ctor absser.ParsableFactory) (absser.Parsable, error) {
	n, err := jsonTreeFactory{}.GetRootParseNode("application/json", b)
	if err != nil {
		return nil, err
	}
	return n.GetObjectValue(ctor)
}

func sameModel(t testing.TB, b []byte, ctor absser.ParsableFactory) {
	t.Helper()
	write := func(p absser.Parsable) any {
		w := kjson.NewJsonSerializationWriter()
		defer w.Close()
		require.NoError(t, w.WriteObjectValue("", p))
		out, err := w.GetSerializedContent()
		require.NoError(t, err)
		var v any // additional data is written in map order: compare values, not bytes
		require.NoError(t, json.Unmarshal(out, &v), "%s", out)
		return v
	}
	kn, err := kiotaTree(b)
	require.NoError(t, err)
	want, err := kn.GetObjectValue(ctor)
	require.NoError(t, err)
	got, err := decodeWith(b, ctor)
	require.NoError(t, err)
	require.Equal(t, write(want), write(got))
}

// TestJSONTreeRefusals: what json.Valid refuses, or Decoder.Token cannot convert, is refused.
func TestJSONTreeRefusals(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		``, ` `, `{`, `}`, `[`, `]`, `{"a"}`, `{"a":}`, `{"a":1,}`, `[1,]`, `[,1]`, `{,}`, `{"a":1 "b":2}`,
		`{a:1}`, `{'a':1}`, `nul`, `nulll`, `tru`, `True`, `01`, `-`, `1.`, `.5`, `1e`, `1e+`, `+1`, `0x10`,
		`"a`, `"\x"`, `"\u12"`, `"\u12G4"`, "\"a\tb\"", "\"\x00\"", `1 2`, `{} {}`, "\ufeff{}", `NaN`,
		`Infinity`, `1e400`, `-1e400`, `[1e999]`, `{"a":[1,2}`, `{"a":"b"]`,
		strings.Repeat("[", maxJSONDepth+1) + strings.Repeat("]", maxJSONDepth+1),
	} {
		_, werr := kiotaTree([]byte(in))
		require.Errorf(t, werr, "kiota accepts %q: the table is wrong", in)
		_, gerr := loadJSONTree([]byte(in))
		require.Errorf(t, gerr, "%q", in)
	}
	// At encoding/json's depth limit both still accept.
	deep := strings.Repeat("[", maxJSONDepth) + strings.Repeat("]", maxJSONDepth)
	sameTree(t, []byte(deep))
	n, err := loadJSONTree([]byte(deep))
	require.NoError(t, err)
	require.NotNil(t, n)
	// A top-level null is a nil node for both, not an error.
	n, err = loadJSONTree([]byte(" null "))
	require.NoError(t, err)
	require.Nil(t, n)
}

// FuzzJSONTree: on any input the two loaders agree — the same tree, or both refuse.
func FuzzJSONTree(f *testing.F) {
	files, err := filepath.Glob("testdata/json/*.json")
	require.NoError(f, err)
	for _, p := range files {
		b, err := os.ReadFile(p)
		require.NoError(f, err)
		f.Add(b)
	}
	for _, s := range []string{`null`, `[null,{"a":null}]`, `"\ud800\udc00\udfff"`, "\"\xff\xfe\"", `-0.0e-0`, `{"a":1,"a":[2]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 1<<16 {
			return
		}
		sameTree(t, b)
	})
}

// BenchmarkJSONTree compares the two loaders on a 200-item delta page and on a permission
// list, as the emulator serves them.
func BenchmarkJSONTree(b *testing.B) {
	delta, perms := emulatorBodies(b, 200)
	for _, in := range []struct {
		name string
		body []byte
	}{{"delta-page", delta[0]}, {"permissions", perms[0]}} {
		for _, l := range []struct {
			name string
			load func([]byte) (*kjson.JsonParseNode, error)
		}{{"kiota", kiotaTree}, {"labelgate", loadJSONTree}} {
			b.Run(in.name+"/"+l.name, func(b *testing.B) {
				b.SetBytes(int64(len(in.body)))
				b.ReportAllocs()
				for range b.N {
					if _, err := l.load(in.body); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

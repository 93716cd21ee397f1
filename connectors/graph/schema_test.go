package graph_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/connectors/graph"
	"github.com/labelgate/labelgate/connectors/graph/emulator"
	"github.com/labelgate/labelgate/connectors/internal/specschema"
)

// TestProviderSchema drives both Graph connectors through every operation against the
// emulator with recording on, then holds every JSON body that passed — requests the
// connectors sent, answers and notifications the emulator produced — to the Graph v1.0 CSDL
// in ../shared/specs, and demands that every emulator route was exercised.
func TestProviderSchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	csdl, err := specschema.Graph()
	require.NoError(t, err)
	rec := &specschema.Recorder{}
	emu, err := emulator.New(emulator.Options{Manifest: manifest(t), PageSize: 2, ClientID: "app", ClientSecret: "s3cret", Middleware: rec.Middleware})
	require.NoError(t, err)
	t.Cleanup(emu.Close)
	subs := &connectors.MemSubscriptions{}
	hc := &http.Client{Transport: rec.Transport(nil), Timeout: 30 * time.Second}
	cfg := graph.Config{
		TenantID: emu.TenantID(), BaseURL: emu.GraphURL(), AuthURL: emu.URL(), ClientID: "app", ClientSecret: "s3cret",
		HTTPClient: hc, Domains: []string{"contoso.com"}, Subscriptions: subs, MonitorPoll: 5 * time.Millisecond,
		UploadChunk: 320 << 10, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	sp, err := graph.NewSharePoint(cfg)
	require.NoError(t, err)
	od, err := graph.NewOneDrive(cfg)
	require.NoError(t, err)

	// Drives, walks (children, permissions), stat and ranged reads on both apps.
	var files []connectors.File
	for _, c := range []*graph.Conn{sp, od} {
		ds, err := c.Drives(ctx)
		require.NoError(t, err)
		require.NotEmpty(t, ds)
		for _, d := range ds {
			require.NoError(t, c.Walk(ctx, d.ID, "", func(f connectors.File, _ string) error {
				files = append(files, f)
				return nil
			}))
		}
	}
	require.NotEmpty(t, files)
	var doc connectors.File
	for _, f := range files {
		if strings.HasSuffix(f.Name, ".docx") && f.Ref.App == connectors.AppSharePoint {
			doc = f
			break
		}
	}
	require.NotEmpty(t, doc.Ref.ItemID)
	_, err = sp.Stat(ctx, doc.Ref)
	require.NoError(t, err)
	_, err = sp.Stat(ctx, connectors.FileRef{App: doc.Ref.App, Tenant: doc.Ref.Tenant, Drive: doc.Ref.Drive, ItemID: "01NOSUCH"})
	require.Equal(t, connectors.KindNotFound, connectors.KindOf(err), "an error answer is checked too")
	obj, err := sp.Open(ctx, doc.Ref)
	require.NoError(t, err)
	buf := make([]byte, 64)
	_, err = obj.ReadAt(buf, 0)
	require.NoError(t, err)
	require.NoError(t, obj.Close())

	// Label catalog, read, apply (202 + monitor polls), remove with justification.
	_, err = sp.Catalog(ctx)
	require.NoError(t, err)
	_, err = sp.ReadLabel(ctx, doc.Ref)
	require.NoError(t, err)
	// assignSensitivityLabel is metered: before the app is linked to an Azure subscription
	// Graph answers 402 paymentRequired, an error body the suite checks too.
	err = sp.ApplyLabel(ctx, doc.Ref, "1b070e6f-4b3c-4534-95c4-08335a5ca610", connectors.ApplyOptions{})
	require.Equal(t, connectors.KindNotConfigured, connectors.KindOf(err), "%v", err)
	emu.LinkBilling(true)
	require.NoError(t, sp.ApplyLabel(ctx, doc.Ref, "1b070e6f-4b3c-4534-95c4-08335a5ca610", connectors.ApplyOptions{}))
	_, err = sp.ReadLabel(ctx, doc.Ref)
	require.NoError(t, err)
	require.NoError(t, sp.RemoveLabel(ctx, doc.Ref, connectors.ApplyOptions{Justification: "schema suite"}))

	// Subscriptions: create (validation handshake), notifications, lifecycle, reauthorize,
	// renew, unsubscribe. The receiver is the connector's own Receive behind a recorder.
	in := &ingress{conn: sp}
	hook := httptest.NewServer(rec.Receiver(in))
	t.Cleanup(hook.Close)
	drive := connectors.Drive{ID: doc.Ref.Drive, Tenant: sp.Tenant()}
	sub, err := sp.Subscribe(ctx, drive, hook.URL)
	require.NoError(t, err)
	subs.Put(connectors.AppSharePoint, sp.Tenant(), sub)

	// Delta: establish, change, follow nextLinks to the deltaLink, then an expired link (410).
	cur, err := sp.Changes(ctx, drive.ID, "", func(connectors.File) error { return nil })
	require.NoError(t, err)
	newID, err := emu.AddFile(drive.ID, "/Schema", "new.docx", "", []byte("PK schema"))
	require.NoError(t, err)
	for i := range 3 {
		_, err := emu.AddFile(drive.ID, "/Schema", "more"+string(rune('a'+i))+".xlsx", "", []byte{byte(i)})
		require.NoError(t, err)
	}
	require.NoError(t, emu.DeleteFile(newID))
	cur, err = sp.Changes(ctx, drive.ID, cur, func(connectors.File) error { return nil })
	require.NoError(t, err)
	// An expired link: the 410 names resyncChangesApplyDifferences and carries a fresh link in
	// Location, which the connector follows to a new deltaLink.
	emu.ExpireDeltaTokens()
	cur, err = sp.Changes(ctx, drive.ID, cur, func(connectors.File) error { return nil })
	require.NoError(t, err)

	_, err = emu.Lifecycle(sub.ID, "reauthorizationRequired")
	require.NoError(t, err)
	sub.Lifecycled = true
	sub, err = sp.Renew(ctx, sub)
	require.NoError(t, err)

	// Uploads: one PUT up to 4 MiB, an upload session with 320 KiB fragments above.
	require.NoError(t, sp.Upload(ctx, doc.Ref, bytes.NewReader([]byte("small")), 5))
	big := emulator.Generate("big", 5<<20)
	require.NoError(t, sp.Upload(ctx, doc.Ref, bytes.NewReader(big), int64(len(big))))

	// Sharing: list every shared file's permissions, remove each grant (204, then its 404),
	// restore it (createLink 201 and, asked again, 200; invite), and the owner's refusal (403).
	for _, f := range files {
		conn := sp
		if f.Ref.App == connectors.AppOneDrive {
			conn = od
		}
		if f.Access != connectors.AccessPublic && f.Access != connectors.AccessExternal {
			continue
		}
		perms, err := conn.Permissions(ctx, f.Ref)
		require.NoError(t, err)
		for _, p := range perms {
			if p.Owner {
				require.Equal(t, connectors.KindPermission, connectors.KindOf(conn.RemovePermission(ctx, f.Ref, p)))
				continue
			}
			require.NoError(t, conn.RemovePermission(ctx, f.Ref, p))
			require.NoError(t, conn.RemovePermission(ctx, f.Ref, p))
			_, err = conn.RestorePermission(ctx, f.Ref, p)
			require.NoError(t, err)
			if p.Kind == connectors.GrantLink {
				_, err = conn.RestorePermission(ctx, f.Ref, p)
				require.NoError(t, err)
			}
		}
	}

	// Routes the connectors do not call (they use getAllSites, items/root, the download URL
	// and, to walk, delta rather than children): the suite asks them directly so their
	// answers are held to the CSDL as well.
	tok := bearer(t, hc, emu)
	for _, p := range []string{"/sites", "/drives/" + drive.ID, "/drives/" + drive.ID + "/root", "/subscriptions/" + sub.ID,
		"/drives/" + drive.ID + "/items/root/children",
		"/drives/" + drive.ID + "/items/" + doc.Ref.ItemID + "/content"} {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, emu.GraphURL()+p, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := hc.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		require.Less(t, resp.StatusCode, 300, p)
	}
	require.NoError(t, sp.Unsubscribe(ctx, sub))
	require.Eventually(t, func() bool { return len(emu.Deliveries()) >= 2 }, 5*time.Second, 10*time.Millisecond)
	emu.Close() // in-flight notifications finish before the recording is read

	ex := rec.Exchanges()
	findings, checked := specschema.Check("graph", ex, graphMapper(t, csdl, emu.TenantID()))
	t.Logf("graph: %d JSON bodies checked against %s", checked, "graph-v1.0.csdl")
	for _, f := range findings {
		t.Errorf("%s", f)
	}
	require.Greater(t, checked, 30)

	// Route coverage: every ServeMux pattern of the emulator, and every operation its
	// /items/{i}/{op} route dispatches.
	routes, err := specschema.RoutePatterns("emulator", "routes")
	require.NoError(t, err)
	routes = slicesDelete(routes, "/v1.0/") // the guard's mount point, not a route: the inner mux's patterns are
	exercised, missing := specschema.Coverage(routes, ex)
	ops := itemOps(t)
	for _, e := range ex {
		if e.Side == specschema.SideEmulator && strings.HasSuffix(e.Pattern, "/{op}") {
			op, _, _ := strings.Cut(e.Path[strings.LastIndex(e.Path, "/")+1:], "(")
			delete(ops, e.Method+" "+op)
		}
	}
	for op := range ops {
		missing = append(missing, "/v1.0/drives/{d}/items/{i}/{op} with "+op)
	}
	sort.Strings(missing)
	t.Logf("graph routes exercised: %v", exercised)
	require.Empty(t, missing, "emulator routes the suite never exercised")
}

// graphMapper maps a recorded body to the CSDL type its route resolves to.
func graphMapper(t *testing.T, csdl *specschema.CSDL, tenant string) specschema.Mapper {
	// The long-running-operation monitor answers asyncJobStatus, which Graph documents
	// ("Working with long-running actions", docs for driveItem copy and
	// assignSensitivityLabel) but the v1.0 CSDL does not define; this is that page's shape.
	str := &specschema.Schema{Name: "Edm.String", Kind: specschema.KindString}
	monitor := &specschema.Schema{Name: "asyncJobStatus (Graph docs, not in the v1.0 CSDL)", Kind: specschema.KindObject, Props: map[string]*specschema.Schema{
		"operation": str, "resourceId": str, "statusDescription": str, "errorCode": str,
		"percentageComplete": {Name: "Edm.Double", Kind: specschema.KindNumber},
		"status":             {Name: "asyncJobStatus.status", Kind: specschema.KindString, Enum: []string{"notStarted", "inProgress", "completed", "updating", "failed", "deletePending", "deleteFailed", "waiting"}},
	}, Required: []string{"status"}, Annotation: specschema.GraphAnnotation}
	typeOf := func(name string) *specschema.Schema {
		s, err := csdl.Type(name)
		require.NoError(t, err)
		return s
	}
	notification := typeOf("microsoft.graph.changeNotificationCollection")
	// The one dynamic property allowed on Graph's open types: the CSDL declares identity
	// open, and SharePoint and OneDrive put the user's e-mail there (createdBy.user.email,
	// grantedToV2.user.email in real answers; the SDK keeps it in AdditionalData). Graph's
	// reference examples show only id and displayName, so the connector's use of it for
	// owners and external sharing is worth the Graph fidelity work's attention.
	dynamic := map[string]bool{"microsoft.graph.identity/email": true}
	m := func(e specschema.Exchange, dir string) specschema.Expect {
		p := e.Path
		switch {
		case dir == "notification":
			return specschema.Expect{Resource: notification.Name, Schema: notification}
		case strings.HasSuffix(p, "/oauth2/v2.0/token"):
			return specschema.Expect{Skip: "the identity platform's token endpoint is not part of Graph's CSDL"}
		case dir == "response" && e.Status >= 400:
			return specschema.Expect{Resource: "error", Schema: specschema.ODataError()}
		case strings.HasPrefix(p, "/_monitor/"):
			return specschema.Expect{Resource: "monitor", Schema: monitor}
		case strings.HasPrefix(p, "/_upload/") && dir == "response":
			// Upload session fragments answer the uploadSession until the last, which
			// answers the driveItem (Graph docs, "Upload large files with an upload session").
			if e.Status == http.StatusAccepted {
				return specschema.Expect{Resource: "microsoft.graph.uploadSession", Schema: typeOf("microsoft.graph.uploadSession")}
			}
			return specschema.Expect{Resource: "microsoft.graph.driveItem", Schema: typeOf("microsoft.graph.driveItem")}
		}
		rest, ok := strings.CutPrefix(p, "/v1.0")
		if !ok {
			return specschema.Expect{Resource: "?", Err: errors.New("not below the service root /v1.0")}
		}
		r, err := csdl.Resolve(e.Method, rest)
		if err != nil {
			return specschema.Expect{Resource: "?", Err: err}
		}
		if dir == "request" {
			return specschema.Expect{Resource: r.Resource, Schema: r.Request}
		}
		return specschema.Expect{Resource: r.Resource, Schema: r.Response}
	}
	return func(e specschema.Exchange, dir string) specschema.Expect {
		x := m(e, dir)
		x.AllowDynamic = dynamic
		return x
	}
}

// itemOps lists the operations the emulator's /items/{i}/{op} route dispatches, read from
// its handler's source so the list cannot fall behind it.
func itemOps(t *testing.T) map[string]bool {
	src, err := os.ReadFile("emulator/handlers.go")
	require.NoError(t, err)
	ops := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?:op == "(\w+)"|strings\.HasPrefix\(op, "(\w+)"\)) && r\.Method == http\.Method(\w+)`).FindAllStringSubmatch(string(src), -1) {
		ops[strings.ToUpper(m[3])+" "+m[1]+m[2]] = true
	}
	require.NotEmpty(t, ops)
	return ops
}

func slicesDelete(list []string, s string) []string {
	out := list[:0]
	for _, x := range list {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}

// bearer gets a token from the emulator's token endpoint for the suite's direct requests.
func bearer(t *testing.T, hc *http.Client, emu *emulator.Server) string {
	form := "grant_type=client_credentials&client_id=app&client_secret=s3cret&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default"
	resp, err := hc.Post(emu.TokenURL(), "application/x-www-form-urlencoded", strings.NewReader(form))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	m := regexp.MustCompile(`"access_token":"([^"]+)"`).FindSubmatch(b)
	require.NotNil(t, m, string(b))
	return string(m[1])
}

package gdrive_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/connectors/gdrive"
	"github.com/labelgate/labelgate/connectors/gdrive/emulator"
	"github.com/labelgate/labelgate/connectors/internal/specschema"
)

// TestProviderSchema drives the Drive connector through every operation against the emulator
// with recording on, then holds every JSON body that passed — requests the connector sent and
// answers the emulator produced — to the Drive v3 and Drive Labels v2 discovery documents
// that ship in the google.golang.org/api module (the method's request and response schema),
// and demands that every emulator route was exercised.
func TestProviderSchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	drv, err := specschema.Drive()
	require.NoError(t, err)
	lbl, err := specschema.DriveLabels()
	require.NoError(t, err)
	m, err := emulator.LoadManifest("../../testdata/gdrive/tenant.json")
	require.NoError(t, err)
	rec := &specschema.Recorder{}
	clk := &clock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	em, err := emulator.New(emulator.Options{Manifest: m, Now: clk.Now, PageSize: 2, Middleware: rec.Middleware})
	require.NoError(t, err)
	t.Cleanup(em.Close)
	subs := &connectors.MemSubscriptions{}
	c, err := gdrive.New(gdrive.Config{
		Tenant: "example.com", Domains: []string{"example.com"}, Users: []string{alice, bob}, AdminEmail: admin,
		ServiceAccountKey: serviceAccountKey(t), TokenURL: em.TokenURL(),
		DriveEndpoint: em.DriveEndpoint(), LabelsEndpoint: em.LabelsEndpoint(),
		HTTPClient: &http.Client{Transport: rec.Transport(nil), Timeout: 30 * time.Second},
		LabelMap: map[string]string{
			mipPublic:  "lbl-sens/fld-level/ch-public",
			mipGeneral: "lbl-sens/fld-level/ch-general",
			mipConf:    "lbl-sens/fld-level/ch-conf",
		},
		Subscriptions: subs, RateLimit: 100000, PageSize: 2, Now: clk.Now,
		Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)

	// Drives (users' My Drives and shared drives), walks, stat, ranged reads.
	ds, err := c.Drives(ctx)
	require.NoError(t, err)
	var files []connectors.File
	for _, d := range ds {
		require.NoError(t, c.Walk(ctx, d.ID, "", func(f connectors.File, _ string) error {
			files = append(files, f)
			return nil
		}))
	}
	require.NotEmpty(t, files)
	doc := ref(aliceDrv, "f-internal")
	_, err = c.Stat(ctx, doc)
	require.NoError(t, err)
	_, err = c.Stat(ctx, ref(aliceDrv, "no-such-file"))
	require.Equal(t, connectors.KindNotFound, connectors.KindOf(err), "an error answer is checked too")
	obj, err := c.Open(ctx, doc)
	require.NoError(t, err)
	_, err = obj.ReadAt(make([]byte, 16), 0)
	require.NoError(t, err)
	require.NoError(t, obj.Close())

	// Labels: catalog, read, apply, remove.
	_, err = c.Catalog(ctx)
	require.NoError(t, err)
	_, err = c.ReadLabel(ctx, ref(aliceDrv, "f-labeled"))
	require.NoError(t, err)
	require.NoError(t, c.ApplyLabel(ctx, doc, mipGeneral, connectors.ApplyOptions{}))
	require.NoError(t, c.RemoveLabel(ctx, doc, connectors.ApplyOptions{}))

	// Channels: watch (the emulator then posts its header-only notifications to the
	// recorded receiver), changes from a start page token, expired tokens, renew, stop.
	hook := httptest.NewServer(rec.Receiver(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		_, _, _ = c.Receive(r.Context(), connectors.Request{Header: r.Header, Body: body, Now: clk.Now()})
		w.WriteHeader(http.StatusOK)
	})))
	t.Cleanup(hook.Close)
	var alive connectors.Drive
	for _, d := range ds {
		if d.ID == aliceDrv {
			alive = d
		}
	}
	sub, err := c.Subscribe(ctx, alive, hook.URL)
	require.NoError(t, err)
	subs.Put(connectors.AppGDrive, c.Tenant(), sub)
	cur, err := c.Changes(ctx, aliceDrv, "", func(connectors.File) error { return nil })
	require.NoError(t, err)
	_, err = em.AddFile(emulator.FileSpec{ID: "f-schema", Name: "schema.docx", Owner: alice, Content: "PK schema"})
	require.NoError(t, err)
	require.NoError(t, em.TrashFile("f-team"))
	cur, err = c.Changes(ctx, aliceDrv, cur, func(connectors.File) error { return nil })
	require.NoError(t, err)
	em.ExpirePageTokens()
	_, err = c.Changes(ctx, aliceDrv, cur, func(connectors.File) error { return nil })
	require.ErrorIs(t, err, connectors.ErrCursorExpired)
	sub, err = c.Renew(ctx, sub)
	require.NoError(t, err)
	require.NoError(t, c.Unsubscribe(ctx, sub))

	// Sharing: permissions.list (My Drive and shared drive), permissions.delete (204, then
	// its 404, and the owner's 403), permissions.create for user, group, domain and anyone
	// grants.
	shared := ref(aliceDrv, "f-external")
	perms, err := c.Permissions(ctx, shared)
	require.NoError(t, err)
	pub, err := c.Permissions(ctx, ref(aliceDrv, "f-public"))
	require.NoError(t, err)
	_, err = c.Permissions(ctx, ref(finance, "f-budget"))
	require.NoError(t, err)
	perms = append(perms, pub...)
	for _, p := range perms {
		r := shared
		if slices.ContainsFunc(pub, func(x connectors.Permission) bool { return x.ID == p.ID }) {
			r = ref(aliceDrv, "f-public")
		}
		if p.Owner {
			require.Equal(t, connectors.KindInvalid, connectors.KindOf(c.RemovePermission(ctx, r, p)))
			continue
		}
		require.NoError(t, c.RemovePermission(ctx, r, p))
		require.NoError(t, c.RemovePermission(ctx, r, p)) // 404
		_, err = c.RestorePermission(ctx, r, p)
		require.NoError(t, err)
	}

	// Upload new content (media upload: the answer is the File).
	require.NoError(t, c.Upload(ctx, doc, bytes.NewReader([]byte("new content")), 11))
	em.Close()

	ex := rec.Exchanges()
	findings, checked := specschema.Check("gdrive", ex, driveMapper(drv, lbl))
	t.Logf("gdrive: %d JSON bodies checked against drive-api.json and drivelabels-api.json", checked)
	for _, f := range findings {
		t.Errorf("%s", f)
	}
	require.Greater(t, checked, 15)

	routes, err := specschema.RoutePatterns("emulator", "routes")
	require.NoError(t, err)
	exercised, missing := specschema.Coverage(routes, ex)
	t.Logf("gdrive routes exercised: %v", exercised)
	require.Empty(t, missing, "emulator routes the suite never exercised")
}

// driveMapper maps a recorded body to the discovery method its path and HTTP method resolve
// to: Drive v3 below /drive/v3/ and /upload/drive/v3/, Drive Labels v2 below /v2/.
func driveMapper(drv, lbl *specschema.Discovery) specschema.Mapper {
	return func(e specschema.Exchange, dir string) specschema.Expect {
		switch {
		case dir == "notification":
			// Drive's push notifications for changes carry everything in X-Goog-* headers
			// (Drive API guide, "Notifications for resource changes"); no body is described.
			return specschema.Expect{Resource: "changes push notification"}
		case e.Path == "/token":
			return specschema.Expect{Skip: "Google's OAuth token endpoint is not part of the discovery documents"}
		case dir == "response" && e.Status >= 400:
			return specschema.Expect{Resource: "error", Schema: specschema.GoogleError()}
		}
		doc := drv
		if strings.HasPrefix(e.Path, "/v2/") {
			doc = lbl
		}
		r, err := doc.Resolve(e.Method, e.Path)
		if err != nil {
			return specschema.Expect{Resource: "?", Err: err}
		}
		if dir == "request" {
			if r.Request == nil {
				return specschema.Expect{Resource: r.Resource, Err: errors.New("the method takes no request body")}
			}
			return specschema.Expect{Resource: r.Resource, Schema: r.Request}
		}
		return specschema.Expect{Resource: r.Resource, Schema: r.Response}
	}
}

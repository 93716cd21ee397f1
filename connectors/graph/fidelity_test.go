package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/connectors/graph"
	"github.com/labelgate/labelgate/connectors/graph/emulator"
)

// Tests of the connector and emulator against Graph's published behaviour (issue 19).

const (
	lblConfidential = "074e257c-5848-4582-9a6f-34a182080e71"
	lblGeneral      = "f42aa342-8706-4288-bd11-ebb85995028c"
	lblHighly       = "a9b8c7d6-e5f4-4321-9abc-def012345678"
)

// TestPermissionsPerEndpoint: the emulator checks the token's roles per endpoint, and a
// missing one is a 403 the connector types as a permission error.
func TestPermissionsPerEndpoint(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	creds := emulator.Options{Manifest: manifest(t), ClientID: "app", ClientSecret: "pw", MeteredBilling: true}

	// The permissions the README used to list: the catalog needs SensitivityLabel.Read (or
	// SensitivityLabels.Read.All), which InformationProtectionPolicy.Read.All is not.
	old := creds
	old.Roles = []string{emulator.RoleSitesRead, emulator.RoleUserRead, emulator.RoleFilesReadWrite, emulator.RoleInfoProtPolicyRd}
	e := setup(t, old)
	_, err := e.sp.Catalog(ctx)
	require.Equal(t, connectors.KindPermission, connectors.KindOf(err), "%v", err)
	require.Equal(t, http.StatusForbidden, err.(*connectors.Error).Status)
	require.ErrorContains(t, err, "accessDenied")
	_, err = e.sp.Drives(ctx)
	require.NoError(t, err, "the rest works with the old set")
	// The administrator grants SensitivityLabel.Read: tokens issued from then on carry it.
	e.emu.SetRoles(append(old.Roles, emulator.RoleLabelRead)...)
	fresh, err := graph.NewSharePoint(graph.Config{TenantID: e.emu.TenantID(), BaseURL: e.emu.GraphURL(), AuthURL: e.emu.URL(),
		ClientID: "app", ClientSecret: "pw"})
	require.NoError(t, err)
	_, err = fresh.Catalog(ctx)
	require.NoError(t, err)

	// The README's set works everywhere labelgate goes.
	e = setup(t, creds)
	cat, err := e.sp.Catalog(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, cat)
	files := walk(t, e.sp, "b!fin-docs")
	ref := files["/Q1/Forecast.xlsx"].Ref
	require.NoError(t, e.sp.ApplyLabel(ctx, ref, lblGeneral, connectors.ApplyOptions{}))
	require.NoError(t, e.sp.Upload(ctx, ref, bytes.NewReader([]byte("v2")), 2))
	_, err = e.od.Drives(ctx)
	require.NoError(t, err)

	// Read-only file access: reads work, writes and subscriptions are refused.
	ro := creds
	ro.Roles = []string{emulator.RoleSitesRead, emulator.RoleUserRead, emulator.RoleFilesRead, emulator.RoleLabelRead}
	e = setup(t, ro)
	files = walk(t, e.sp, "b!fin-docs")
	ref = files["/Q1/Forecast.xlsx"].Ref
	_, err = e.sp.ReadLabel(ctx, ref)
	require.NoError(t, err, "extractSensitivityLabels needs Files.Read.All only")
	for name, err := range map[string]error{
		"assign": e.sp.ApplyLabel(ctx, ref, lblGeneral, connectors.ApplyOptions{}),
		"upload": e.sp.Upload(ctx, ref, bytes.NewReader([]byte("v2")), 2),
		"subscribe": func() error {
			_, err := e.sp.Subscribe(ctx, connectors.Drive{ID: "b!fin-docs"}, "http://127.0.0.1:1/hook")
			return err
		}(),
	} {
		require.Equal(t, connectors.KindPermission, connectors.KindOf(err), "%s: %v", name, err)
	}
	require.Zero(t, e.emu.LabelWrites(ref.ItemID))

	// No Sites.Read.All: SharePoint sites cannot be listed; OneDrives still can.
	nosites := creds
	nosites.Roles = []string{emulator.RoleUserRead, emulator.RoleFilesReadWrite, emulator.RoleLabelRead}
	e = setup(t, nosites)
	_, err = e.sp.Drives(ctx)
	require.Equal(t, connectors.KindPermission, connectors.KindOf(err), "%v", err)
	_, err = e.od.Drives(ctx)
	require.NoError(t, err)
}

// TestMeteredAssignNeedsBilling: until the app is linked to an Azure subscription Graph
// answers assignSensitivityLabel with 402 paymentRequired; the connector calls that
// not-configured (no retry can help) and nothing is written.
func TestMeteredAssignNeedsBilling(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setup(t, emulator.Options{Manifest: manifest(t)})
	ref := walk(t, e.sp, "b!fin-docs")["/Q1/Forecast.xlsx"].Ref
	err := e.sp.ApplyLabel(ctx, ref, lblGeneral, connectors.ApplyOptions{})
	require.Equal(t, connectors.KindNotConfigured, connectors.KindOf(err), "%v", err)
	require.False(t, connectors.Retryable(err))
	require.Equal(t, http.StatusPaymentRequired, err.(*connectors.Error).Status)
	require.ErrorContains(t, err, "paymentRequired")
	require.ErrorContains(t, err, "Microsoft.GraphServices/accounts")
	require.Zero(t, e.emu.LabelWrites(ref.ItemID))
	st, err := e.sp.ReadLabel(ctx, ref)
	require.NoError(t, err, "reading labels is not metered")
	require.Empty(t, st.LabelID)

	e.emu.LinkBilling(true)
	require.NoError(t, e.sp.ApplyLabel(ctx, ref, lblGeneral, connectors.ApplyOptions{}))
	require.Equal(t, 1, e.emu.LabelWrites(ref.ItemID))
}

// TestLockedCodes: each 423 code Graph names comes back as KindLocked with the code in the
// message; a label with user-defined permissions cannot be applied app-only.
func TestLockedCodes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := manifest(t)
	m.Labels = append(m.Labels, emulator.Label{ID: "udp-label", Name: "Do Not Forward", DisplayName: "Do Not Forward",
		Priority: 5, Protection: true, UserDefined: true})
	e := setup(t, emulator.Options{Manifest: m, ClientID: "app", ClientSecret: "pw", MeteredBilling: true})
	ref := walk(t, e.sp, "b!fin-docs")["/Q1/Forecast.xlsx"].Ref
	for _, code := range []string{emulator.LockDoubleKey, emulator.LockDecryptionUnsupported, emulator.LockDecryptionDeferred} {
		require.NoError(t, e.emu.SetLockCode(ref.ItemID, code))
		err := e.sp.ApplyLabel(ctx, ref, lblGeneral, connectors.ApplyOptions{})
		require.Equal(t, connectors.KindLocked, connectors.KindOf(err), "%s: %v", code, err)
		require.Equal(t, http.StatusLocked, err.(*connectors.Error).Status)
		require.ErrorContains(t, err, code)
	}
	require.NoError(t, e.emu.SetLockCode(ref.ItemID, ""))
	err := e.sp.ApplyLabel(ctx, ref, "udp-label", connectors.ApplyOptions{})
	require.Equal(t, connectors.KindInvalid, connectors.KindOf(err), "%v", err)
	require.ErrorContains(t, err, "user-defined permissions")
	require.Zero(t, e.emu.LabelWrites(ref.ItemID))
	require.NoError(t, e.sp.ApplyLabel(ctx, ref, lblHighly, connectors.ApplyOptions{}), "a protecting label with fixed permissions is fine")
}

// TestMonitorSeeOther: a monitor answering 303 See Other means done. The connector must not
// follow it: the Location is the driveItem, which needs a token the monitor poll does not send.
func TestMonitorSeeOther(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setup(t, emulator.Options{Manifest: manifest(t), ClientID: "app", ClientSecret: "pw", MeteredBilling: true,
		MonitorPolls: 2, MonitorSeeOther: true})
	ref := walk(t, e.sp, "b!fin-docs")["/Q1/Forecast.xlsx"].Ref
	before := e.emu.Requests("GET /v1.0/drives/b!fin-docs/items/" + ref.ItemID)
	require.NoError(t, e.sp.ApplyLabel(ctx, ref, lblConfidential, connectors.ApplyOptions{}))
	require.Equal(t, 3, e.emu.Requests("GET /_monitor/"), "two in progress, then 303")
	require.Equal(t, before, e.emu.Requests("GET /v1.0/drives/b!fin-docs/items/"+ref.ItemID), "the redirect was not followed")
	require.Equal(t, lblConfidential, e.emu.FileLabel(ref.ItemID))
}

// TestExtractAnswerShapes: the bare result (v1.0 CSDL) and the docs' "value"-wrapped example
// both read the label over the wire.
func TestExtractAnswerShapes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, wrapped := range []bool{false, true} {
		e := setup(t, emulator.Options{Manifest: manifest(t), ExtractWrapped: wrapped})
		ref := walk(t, e.sp, "b!hr-docs")["/Policies/Handbook.docx"].Ref
		st, err := e.sp.ReadLabel(ctx, ref)
		require.NoError(t, err)
		require.Equal(t, connectors.LabelState{LabelID: lblGeneral, Tenant: e.emu.TenantID(), Method: "standard"}, st, "wrapped=%v", wrapped)
	}
}

// TestCatalogDisabledAtSource: a label an administrator disables shows as disabled at the
// next catalog read (isEnabled: false, as the docs' example carries it).
func TestCatalogDisabledAtSource(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setup(t, emulator.Options{Manifest: manifest(t)})
	byID := func() map[string]connectors.Label {
		cat, err := e.sp.Catalog(ctx)
		require.NoError(t, err)
		m := map[string]connectors.Label{}
		for _, l := range cat {
			m[l.ID] = l
		}
		return m
	}
	require.False(t, byID()[lblGeneral].Disabled)
	require.NoError(t, e.emu.SetLabelDisabled(lblGeneral, true))
	require.True(t, byID()[lblGeneral].Disabled)
	require.NoError(t, e.emu.SetLabelDisabled(lblGeneral, false))
	require.False(t, byID()[lblGeneral].Disabled)
}

// TestCatalogFieldSources reads a catalog answer shaped by hand: hasProtection (v1.0 CSDL),
// isEnabled (docs' example) and isActive (beta resource) all count, and a sublabel's parent is
// the label it is nested in (the CSDL's sublabels containment), not a "parent" field.
func TestCatalogFieldSources(t *testing.T) {
	t.Parallel()
	body := map[string]any{"value": []any{
		map[string]any{"id": "p", "name": "Parent", "priority": 1, "hasProtection": false, "isEnabled": true,
			"sublabels": []any{
				map[string]any{"id": "c1", "name": "Child one", "priority": 2, "hasProtection": true, "isEnabled": false},
				map[string]any{"id": "c2", "name": "Child two", "priority": 3, "isActive": false, "parent": "bogus"},
			}},
		map[string]any{"id": "x", "name": "Plain", "priority": 0},
	}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, "/v1.0/security/dataSecurityAndGovernance/sensitivityLabels", r.URL.Path)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(body)
	}))
	t.Cleanup(srv.Close)
	c, err := graph.NewSharePoint(graph.Config{TenantID: "t", BaseURL: srv.URL + "/v1.0"})
	require.NoError(t, err)
	cat, err := c.Catalog(context.Background())
	require.NoError(t, err)
	by := map[string]connectors.Label{}
	for _, l := range cat {
		by[l.ID] = l
	}
	require.Len(t, by, 4)
	require.Equal(t, connectors.Label{ID: "p", Name: "Parent", Priority: 1, Tenant: "t"}, by["p"])
	require.Equal(t, connectors.Label{ID: "c1", Name: "Child one", Parent: "p", Priority: 2, Tenant: "t", Protection: true, Disabled: true}, by["c1"])
	require.Equal(t, connectors.Label{ID: "c2", Name: "Child two", Parent: "p", Priority: 3, Tenant: "t", Disabled: true}, by["c2"])
	require.Equal(t, connectors.Label{ID: "x", Name: "Plain", Tenant: "t"}, by["x"], "no flags: enabled, unprotected")
}

// TestUploadIfMatch: a conditional upload with the etag read lands while the file is
// unchanged and is refused (KindChanged) once a user edited it, whose edit is kept; the same
// for a large file going through an upload session.
func TestUploadIfMatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setup(t, emulator.Options{Manifest: manifest(t)}, func(c *graph.Config) { c.UploadChunk = 320 << 10 })
	ref := walk(t, e.sp, "b!fin-docs")["/Q1/Forecast.xlsx"].Ref
	for _, size := range []int{100, 5 << 20} {
		read, err := e.sp.Stat(ctx, ref)
		require.NoError(t, err)
		ours := emulator.Generate("ours", size)
		user := []byte("the user's edit")
		require.NoError(t, e.emu.ModifyFile(ref.ItemID, user))
		err = e.sp.UploadIfMatch(ctx, ref, read.ETag, bytes.NewReader(ours), int64(len(ours)))
		require.Equal(t, connectors.KindChanged, connectors.KindOf(err), "size %d: %v", size, err)
		require.Equal(t, http.StatusPreconditionFailed, err.(*connectors.Error).Status)
		require.Equal(t, user, e.emu.Content(ref.ItemID), "size %d: the user's edit is kept", size)

		now, err := e.sp.Stat(ctx, ref)
		require.NoError(t, err)
		require.NoError(t, e.sp.UploadIfMatch(ctx, ref, now.ETag, bytes.NewReader(ours), int64(len(ours))))
		require.Equal(t, ours, e.emu.Content(ref.ItemID))
	}
	err := e.sp.UploadIfMatch(ctx, ref, "", bytes.NewReader([]byte("x")), 1)
	require.Equal(t, connectors.KindInvalid, connectors.KindOf(err))
}

// TestBatchedNotifications: one POST carries the notifications of several subscriptions
// sharing a URL; each entry is verified and becomes its own notice.
func TestBatchedNotifications(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setup(t, emulator.Options{Manifest: manifest(t)})
	in := &ingress{conn: e.sp}
	hook := httptest.NewServer(in)
	t.Cleanup(hook.Close)
	var subs []string
	for _, d := range []string{"b!hr-docs", "b!fin-docs"} {
		sub, err := e.sp.Subscribe(ctx, connectors.Drive{ID: d}, hook.URL)
		require.NoError(t, err)
		e.subs.Put(connectors.AppSharePoint, e.sp.Tenant(), sub)
		subs = append(subs, sub.ID)
	}
	e.emu.NotifyDrives("b!hr-docs", "b!fin-docs")
	ds := e.emu.Deliveries()
	require.Len(t, ds, 1, "one POST")
	require.ElementsMatch(t, subs, ds[0].Subscriptions)
	require.Equal(t, http.StatusAccepted, ds[0].Status)
	var drives []string
	for _, n := range in.notices() {
		drives = append(drives, n.Drive)
	}
	require.ElementsMatch(t, []string{"b!hr-docs", "b!fin-docs"}, drives)

	// Changes made through the API within the batch window share a POST as well.
	files := walk(t, e.sp, "b!hr-docs")
	fin := walk(t, e.sp, "b!fin-docs")
	require.NoError(t, e.sp.Upload(ctx, files["/Org/Chart.pptx"].Ref, bytes.NewReader([]byte("a")), 1))
	require.NoError(t, e.sp.Upload(ctx, fin["/Q1/Forecast.xlsx"].Ref, bytes.NewReader([]byte("b")), 1))
	require.Eventually(t, func() bool { return len(in.notices()) == 4 }, 5e9, 1e7)
	// The emulator records a delivery once the POST's answer is read, after our handler took
	// the notices: wait for the record rather than read it at once (which failed 3 times in 30
	// runs under -race).
	require.Eventually(t, func() bool { return len(e.emu.Deliveries()) >= 2 }, 5e9, 1e7)
	ds = e.emu.Deliveries()
	require.Len(t, ds, 2)
	require.Len(t, ds[1].Subscriptions, 2)
}

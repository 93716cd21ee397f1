package labeling_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/internal/store/storetest"
	"github.com/labelgate/labelgate/labeling"
)

// lTop is a second label that carries protection, for replacements that keep it.
const lTop = "66666666-6666-6666-6666-666666666666"

// protEnv is an executor over a native-label connector of app whose label reads never report
// protection (Box never does; Graph not for labels without hasProtection), on backend b.
func protEnv(t *testing.T, b storetest.Backend, app connectors.App) *env {
	t.Helper()
	clk := newFakeClock(start)
	st := storetest.Open(t, b, func(c *store.Config) { c.Now = clk.Now })
	conn := newMemConn(app, "t1")
	_, err := st.SyncLabels(context.Background(), app, "t1", []connectors.Label{
		{ID: lGeneral, Name: "General", Priority: 1},
		{ID: lSecret, Name: "Secret", Priority: 3, Protection: true},
		{ID: lTop, Name: "Top Secret", Priority: 4, Protection: true},
	})
	require.NoError(t, err)
	ex, err := labeling.NewExecutor(labeling.ExecutorConfig{Store: st, Connectors: labeling.Connectors(nativeConn{conn}), Clock: clk,
		Retry: labeling.RetryConfig{Jitter: -1}})
	require.NoError(t, err)
	t.Cleanup(func() { ex.Close() })
	return &env{t: t, st: st, clk: clk, conn: conn, ex: ex}
}

// scanned records a scan of the file as the scanner would after reading its content.
func (e *env) scanned(ref connectors.FileRef, name, label string, protected bool) {
	e.t.Helper()
	f := connectors.File{Ref: ref, Path: "/", Name: name, Size: 10, ETag: "e1"}
	_, err := e.st.RecordScan(context.Background(), store.ScanOutcome{File: f, Type: "word", LabelID: label, LabelTenant: "t1", Protected: protected})
	require.NoError(e.t, err)
}

func adminRemove(a *store.Action) { a.Manual, a.RequestedBy, a.PolicyID = true, "admin:ops", "" }

// The protection rule takes its truth from the inventory and the catalog, not only from the
// provider's label state (issue 22, findings 2 and 3), on SharePoint and Box alike.
func TestProtectionRule(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		for _, app := range []connectors.App{connectors.AppSharePoint, connectors.AppBox} {
			t.Run(string(b.Name)+"/"+string(app), func(t *testing.T) {
				t.Parallel()
				e := protEnv(t, b, app)
				refused := func(id int64, want string) {
					t.Helper()
					out := e.exec(id)
					require.Equal(t, store.ActionRefused, out.State, out.Reason)
					require.Contains(t, out.Reason, want)
				}

				// DELETE /files/{id}/label on a file the scanner found protected, labelled with a
				// label the catalog does not mark as protecting and whose provider reports no
				// protection: refused, the label stays.
				scanned := e.file("scanned", "scanned.docx", 10, connectors.LabelState{LabelID: lGeneral, Tenant: "t1"})
				e.scanned(scanned, "scanned.docx", lGeneral, true)
				refused(e.action(scanned, store.ActionRemoveLabel, "", adminRemove), "protection applied outside labelgate")
				require.Equal(t, lGeneral, e.conn.Label("scanned").LabelID)

				// A label that carries protection (catalog), set outside labelgate.
				prot := e.file("prot", "prot.docx", 10, connectors.LabelState{LabelID: lSecret, Tenant: "t1"})
				refused(e.action(prot, store.ActionRemoveLabel, "", adminRemove), "protection applied outside labelgate")
				// Replace-then-remove: the unprotected replacement is refused …
				refused(e.action(prot, store.ActionApplyLabel, lGeneral), "carries no protection")
				require.Equal(t, lSecret, e.conn.Label("prot").LabelID)
				// … a replacement that keeps protection is done …
				out := e.exec(e.action(prot, store.ActionApplyLabel, lTop))
				require.Equal(t, store.ActionDone, out.State, out.Reason)
				require.Equal(t, lTop, e.conn.Label("prot").LabelID)
				// … and removing labelgate's replacement is refused: the protection is still
				// someone else's.
				refused(e.action(prot, store.ActionRemoveLabel, "", adminRemove), "protection applied outside labelgate")
				refused(e.action(prot, store.ActionApplyLabel, lGeneral, adminRemove), "carries no protection")
				require.Equal(t, lTop, e.conn.Label("prot").LabelID)

				// A scan that saw a protecting label arrive from outside is evidence too, even
				// after the provider stops reporting it.
				seen := e.file("seen", "seen.docx", 10, connectors.LabelState{})
				e.scanned(seen, "seen.docx", "", false)
				e.scanned(seen, "seen.docx", lSecret, false)
				e.conn.setLabel("seen", connectors.LabelState{LabelID: lGeneral, Tenant: "t1"})
				e.scanned(seen, "seen.docx", lGeneral, false)
				refused(e.action(seen, store.ActionRemoveLabel, "", adminRemove), "carries protection, set outside labelgate")

				// Protection labelgate applied itself, to a file never protected before, may be
				// undone by labelgate.
				mine := e.file("mine", "mine.docx", 10, connectors.LabelState{})
				require.Equal(t, store.ActionDone, e.exec(e.action(mine, store.ActionApplyLabel, lSecret)).State)
				out = e.exec(e.action(mine, store.ActionRemoveLabel, "", adminRemove))
				require.Equal(t, store.ActionDone, out.State, out.Reason)
				require.Empty(t, e.conn.Label("mine").LabelID)
			})
		}
	}
}

package labeling_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/labeling"
	"github.com/labelgate/labelgate/labeling/labeltest"
)

// A file shared by a partner carries the partner's label. Label actions run by the executor in
// embedded mode (the label written into the file, a new version uploaded) must leave it there:
// applying ours adds ours beside it, removing ours takes away ours only.
func TestExecutorKeepsPartnersLabelInFiles(t *testing.T) {
	t.Parallel()
	partner := labeltest.Label{ID: labeltest.LabelPublic, Tenant: labeltest.TenantFabrikam, Method: "Privileged", Name: "Partner public",
		SetDate: "2024-05-06T07:08:09Z"}
	for _, codec := range []struct {
		name  string
		codec labeling.FileCodec
	}{
		{"org engine", labeling.OrgEngine{Tenant: func() string { return labeltest.TenantContoso }}},
		{"engine without the organisation's tenant", nil},
	} {
		t.Run(codec.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			ctx := context.Background()
			conn := newMemConn(connectors.AppFileShare, labeltest.TenantContoso)
			_, err := e.st.SyncLabels(ctx, conn.app, conn.tenant, []connectors.Label{{ID: labeltest.LabelGeneral, Name: "General"}})
			require.NoError(t, err)
			ex, err := labeling.NewExecutor(labeling.ExecutorConfig{Store: e.st, Connectors: labeling.Connectors(conn), Clock: e.clk,
				Codec: codec.codec, Retry: labeling.RetryConfig{Jitter: -1}})
			require.NoError(t, err)
			records := func(item, tenant string) []labeling.Label {
				t.Helper()
				b := conn.Content(item)
				res, err := labeling.Read(ctx, bytes.NewReader(b), int64(len(b)), "x.docx")
				require.NoError(t, err)
				var out []labeling.Label
				for _, l := range res.Labels {
					if l.Tenant == tenant {
						out = append(out, l)
					}
				}
				return out
			}
			run := func(item, kind, label string) labeling.Outcome {
				t.Helper()
				out, err := ex.Execute(ctx, e.action(conn.ref(item), kind, label))
				require.NoError(t, err)
				return out
			}

			conn.addContent("shared", "shared.docx", labeltest.Docx(labeltest.Options{LabelInfo: []labeltest.Label{partner}, Custom: []labeltest.Label{partner}}))
			before := records("shared", labeltest.TenantFabrikam)
			require.Len(t, before, 2)

			out := run("shared", store.ActionApplyLabel, labeltest.LabelGeneral)
			require.Equal(t, store.ActionDone, out.State, out.Reason)
			require.Equal(t, before, records("shared", labeltest.TenantFabrikam), "the partner's label stays beside ours")
			require.NotEmpty(t, records("shared", labeltest.TenantContoso))

			uploads := conn.Calls("upload")
			out = run("shared", store.ActionRemoveLabel, "")
			require.Equal(t, before, records("shared", labeltest.TenantFabrikam), "removing ours never takes the partner's")
			if codec.codec == nil {
				// Without the organisation's tenant the engine cannot tell whose label to take
				// away: it refuses, once, rather than guess.
				require.Equal(t, store.ActionRefused, out.State, out.Reason)
				require.Contains(t, out.Reason, labeling.ErrTenantAmbiguous.Error())
				require.Equal(t, uploads, conn.Calls("upload"))
				return
			}
			require.Equal(t, store.ActionDone, out.State, out.Reason)
			for _, l := range records("shared", labeltest.TenantContoso) {
				require.True(t, l.Removed, "only Office's removed form of ours is left: %+v", l)
			}

			// A file carrying only the partner's label: the organisation has nothing to remove.
			conn.addContent("theirs", "theirs.docx", labeltest.Docx(labeltest.Options{Custom: []labeltest.Label{partner}}))
			theirs := records("theirs", labeltest.TenantFabrikam)
			run("theirs", store.ActionRemoveLabel, "")
			require.Equal(t, theirs, records("theirs", labeltest.TenantFabrikam), "a partner's only label is not ours to erase")
		})
	}
}

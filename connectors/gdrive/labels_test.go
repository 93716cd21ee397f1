package gdrive_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/connectors/gdrive"
	"github.com/labelgate/labelgate/connectors/gdrive/emulator"
)

func TestCatalogFromDriveLabels(t *testing.T) {
	t.Parallel()
	f := setup(t)
	cat, err := f.c.Catalog(f.ctx)
	require.NoError(t, err)
	// Only the mapped Drive label is managed; the "Project" label is someone else's.
	require.Equal(t, []connectors.Label{
		{ID: mipPublic, Name: "Public", DisplayName: "Sensitivity: Public", Priority: 0, Tenant: "example.com",
			Native: "lbl-sens/fld-level/ch-public"},
		{ID: mipGeneral, Name: "General", DisplayName: "Sensitivity: General", Priority: 1, Tenant: "example.com",
			Native: "lbl-sens/fld-level/ch-general"},
		{ID: mipConf, Name: "Confidential", DisplayName: "Sensitivity: Confidential", Priority: 2, Tenant: "example.com",
			Native: "lbl-sens/fld-level/ch-conf"},
	}, cat)

	// Without a mapping every published choice is listed under its native id.
	raw := setup(t, func(c *gdrive.Config) { c.LabelMap = nil })
	cat, err = raw.c.Catalog(raw.ctx)
	require.NoError(t, err)
	require.Len(t, cat, 4)
	require.Equal(t, "lbl-project/fld-code/ch-apollo", cat[3].ID)
}

func TestApplyReadRemoveLabels(t *testing.T) {
	t.Parallel()
	f := setup(t)
	r := ref(aliceDrv, "f-private")
	st, err := f.c.ReadLabel(f.ctx, r)
	require.NoError(t, err)
	require.Empty(t, st.LabelID)

	require.NoError(t, f.c.ApplyLabel(f.ctx, r, mipGeneral, connectors.ApplyOptions{Method: "standard"}))
	require.Equal(t, 1, f.em.LabelWrites("f-private"))
	require.Equal(t, map[string]map[string][]string{"lbl-sens": {"fld-level": {"ch-general"}}}, f.em.FileLabels("f-private"))
	st, err = f.c.ReadLabel(f.ctx, r)
	require.NoError(t, err)
	require.Equal(t, connectors.LabelState{LabelID: mipGeneral, Tenant: "example.com", Method: "standard"}, st)

	// Upgrading replaces the selection value.
	require.NoError(t, f.c.ApplyLabel(f.ctx, r, mipConf, connectors.ApplyOptions{}))
	st, err = f.c.ReadLabel(f.ctx, r)
	require.NoError(t, err)
	require.Equal(t, mipConf, st.LabelID)
	file, err := f.c.Stat(f.ctx, r)
	require.NoError(t, err)
	require.Equal(t, mipConf, file.NativeLabel)

	require.NoError(t, f.c.RemoveLabel(f.ctx, r, connectors.ApplyOptions{Justification: "test"}))
	require.Equal(t, 3, f.em.LabelWrites("f-private"))
	st, err = f.c.ReadLabel(f.ctx, r)
	require.NoError(t, err)
	require.Empty(t, st.LabelID)
	// Nothing left to remove: no write.
	require.NoError(t, f.c.RemoveLabel(f.ctx, r, connectors.ApplyOptions{}))
	require.Equal(t, 3, f.em.LabelWrites("f-private"))

	// Removing leaves labels labelgate does not manage.
	require.NoError(t, f.c.RemoveLabel(f.ctx, ref(aliceDrv, "f-labeled"), connectors.ApplyOptions{}))
	require.Equal(t, map[string]map[string][]string{"lbl-project": {"fld-code": {"ch-apollo"}}}, f.em.FileLabels("f-labeled"))

	// Without a labelMap, removing the file's label removes the one Drive label it is read
	// from, not every Drive label on the file.
	raw := setup(t, func(c *gdrive.Config) { c.LabelMap = nil })
	before := raw.em.FileLabels("f-labeled")
	require.Len(t, before, 2, "the seed gives f-labeled a sensitivity and a project label")
	st, err = raw.c.ReadLabel(raw.ctx, ref(aliceDrv, "f-labeled"))
	require.NoError(t, err)
	require.NotEmpty(t, st.LabelID)
	require.NoError(t, raw.c.RemoveLabel(raw.ctx, ref(aliceDrv, "f-labeled"), connectors.ApplyOptions{}))
	after := raw.em.FileLabels("f-labeled")
	require.Len(t, after, 1, "one Drive label removed: %v", after)
	gone := ""
	for id := range before {
		if _, ok := after[id]; !ok {
			gone = id
		}
	}
	require.Equal(t, strings.SplitN(st.LabelID, "/", 2)[0], gone, "the label removed is the one the file's label was read from")

	// Shared drive files are labelled the same way.
	require.NoError(t, f.c.ApplyLabel(f.ctx, ref(finance, "f-budget"), mipConf, connectors.ApplyOptions{}))
	st, err = f.c.ReadLabel(f.ctx, ref(finance, "f-budget"))
	require.NoError(t, err)
	require.Equal(t, mipConf, st.LabelID)

	err = f.c.ApplyLabel(f.ctx, r, "unmapped-mip-label", connectors.ApplyOptions{})
	require.Equal(t, connectors.KindInvalid, connectors.KindOf(err))
	err = f.c.ApplyLabel(f.ctx, r, "lbl-sens/fld-level/ch-nope", connectors.ApplyOptions{})
	require.Equal(t, connectors.KindInvalid, connectors.KindOf(err), "Drive rejects an unknown choice: %v", err)
	require.Equal(t, 3, f.em.LabelWrites("f-private"))
}

func TestThrottlingAndErrorKinds(t *testing.T) {
	t.Parallel()
	cases := []struct {
		fault emulator.Fault
		kind  connectors.Kind
		retry time.Duration
	}{
		{emulator.Fault{Status: 403, Reason: "rateLimitExceeded", RetryAfter: "7"}, connectors.KindThrottled, 7 * time.Second},
		{emulator.Fault{Status: 403, Reason: "userRateLimitExceeded"}, connectors.KindThrottled, 30 * time.Second},
		{emulator.Fault{Status: 429, RetryAfter: "2"}, connectors.KindThrottled, 2 * time.Second},
		{emulator.Fault{Status: 429}, connectors.KindThrottled, 30 * time.Second},
		{emulator.Fault{Status: 403, Reason: "dailyLimitExceeded"}, connectors.KindFatalToday, 0},
		{emulator.Fault{Status: 403, Reason: "quotaExceeded"}, connectors.KindFatalToday, 0},
		{emulator.Fault{Status: 403, Reason: "insufficientFilePermissions"}, connectors.KindPermission, 0},
		{emulator.Fault{Status: 500}, connectors.KindTransient, 0},
		{emulator.Fault{Status: 503, RetryAfter: "4"}, connectors.KindTransient, 4 * time.Second},
		{emulator.Fault{Status: 404, Reason: "notFound"}, connectors.KindNotFound, 0},
	}
	f := setup(t)
	r := ref(aliceDrv, "f-private")
	ops := map[string]func() error{
		"stat": func() error { _, err := f.c.Stat(f.ctx, r); return err },
		"changes": func() error {
			_, err := f.c.Changes(f.ctx, aliceDrv, "1", func(connectors.File) error { return nil })
			return err
		},
		"label": func() error { return f.c.ApplyLabel(f.ctx, r, mipConf, connectors.ApplyOptions{}) },
		"read": func() error {
			obj, err := f.c.Open(f.ctx, r)
			if err != nil {
				return fmt.Errorf("open: %w", err)
			}
			f.em.FailNext(emulator.Fault{Status: 429, RetryAfter: "3"})
			_, err = obj.ReadAt(make([]byte, 4), 0)
			return err
		},
	}
	for _, tc := range cases {
		f.em.FailNext(tc.fault)
		err := ops["stat"]()
		require.Equal(t, tc.kind, connectors.KindOf(err), "%+v: %v", tc.fault, err)
		ra, _ := connectors.RetryAfter(err)
		require.Equal(t, tc.retry, ra, "%+v", tc.fault)
		var ce *connectors.Error
		require.ErrorAs(t, err, &ce)
		require.Equal(t, tc.fault.Status, ce.Status)
	}
	for name, op := range ops {
		if name != "read" {
			f.em.FailNext(emulator.Fault{Status: 403, Reason: "userRateLimitExceeded", RetryAfter: "9"})
		}
		err := op()
		require.Equal(t, connectors.KindThrottled, connectors.KindOf(err), "%s: %v", name, err)
		require.True(t, connectors.Retryable(err), name)
	}
	require.NoError(t, ops["stat"](), "faults are used up")
}

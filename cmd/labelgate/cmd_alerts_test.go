package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/alerts"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/internal/store/storetest"
)

func TestCmdAlerts(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 10, 15, 30, 0, 0, time.UTC)
	st := storetest.OpenSQLite(t, func(c *store.Config) { c.Now = func() time.Time { return now } })
	ctx := context.Background()
	eng, err := alerts.New(alerts.Config{}, st, alerts.Options{})
	require.NoError(t, err)
	for i := range 2 {
		f := connectors.File{Ref: connectors.FileRef{App: connectors.AppBox, Tenant: "E", Drive: "0", ItemID: fmt.Sprint(i)},
			Path: "/Finance", Name: fmt.Sprintf("f%d.docx", i), Owner: "ann@contoso.com"}
		_, err := st.RecordScan(ctx, store.ScanOutcome{File: f, LabelID: "L1"})
		require.NoError(t, err)
		_, err = st.RecordScan(ctx, store.ScanOutcome{File: f})
		require.NoError(t, err)
	}
	require.NoError(t, eng.Tick(ctx))

	var out, errb bytes.Buffer
	require.Equal(t, 0, cmdAlerts(ctx, st, nil, &out, &errb), errb.String())
	require.Regexp(t, `2\s+open\s+high\s+label_removed\s+1\s+\S+ \S+ \S+\s+box:/Finance/f1.docx\s+Sensitivity label removed`, out.String())

	out.Reset()
	require.Equal(t, 0, cmdAlerts(ctx, st, []string{"ack", "1", "-by", "ann", "-o", "json"}, &out, &errb), errb.String())
	var a store.Alert
	require.NoError(t, json.Unmarshal(out.Bytes(), &a))
	require.Equal(t, store.AlertAcknowledged, a.State)
	require.Equal(t, "ann", a.AckedBy)

	out.Reset()
	require.Equal(t, 0, cmdAlerts(ctx, st, []string{"resolve", "-by", "bob", "2"}, &out, &errb), errb.String())
	require.Equal(t, "alert 2 is resolved\n", out.String())

	out.Reset()
	require.Equal(t, 0, cmdAlerts(ctx, st, []string{"list", "-o", "json"}, &out, &errb))
	var page alerts.Page
	require.NoError(t, json.Unmarshal(out.Bytes(), &page))
	require.Len(t, page.Items, 1)
	require.EqualValues(t, 1, page.Items[0].ID)

	out.Reset()
	require.Equal(t, 0, cmdAlerts(ctx, st, []string{"-state", "resolved"}, &out, &errb))
	require.Contains(t, out.String(), "resolved")
	require.NotContains(t, out.String(), "acknowledged")

	require.Equal(t, 1, cmdAlerts(ctx, st, []string{"ack", "2"}, &out, &errb), "a resolved alert cannot be acknowledged")
	require.Contains(t, errb.String(), "alert is resolved")
	require.Equal(t, 1, cmdAlerts(ctx, st, []string{"resolve", "99"}, &out, &errb))
	require.Equal(t, 2, cmdAlerts(ctx, st, []string{"ack"}, &out, &errb))
	require.Equal(t, 2, cmdAlerts(ctx, st, []string{"ack", "x"}, &out, &errb))
	require.Equal(t, 2, cmdAlerts(ctx, st, []string{"-state", "closed"}, &out, &errb))
	require.Equal(t, 2, cmdAlerts(ctx, st, []string{"mute"}, &out, &errb))
	require.Equal(t, 2, cmdAlerts(ctx, st, []string{"-o", "yaml"}, &out, &errb))
}

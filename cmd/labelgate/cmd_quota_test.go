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
	"github.com/labelgate/labelgate/internal/config"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/internal/store/storetest"
	"github.com/labelgate/labelgate/labeling"
)

// The configuration file's quota section converts to the executor's quota type as is.
var _ = labeling.QuotaConfig(config.Quota{})

func TestCmdQuota(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 10, 15, 30, 0, 0, time.UTC)
	st := storetest.OpenSQLite(t, func(c *store.Config) { c.Now = func() time.Time { return now } })
	ctx := context.Background()
	cfg := labeling.QuotaConfig{Default: 100, Manual: 5, PerApp: map[string]int{"box": 3}}
	// Four box actions against a limit of 3: three claimed, one paused.
	for i := range 4 {
		ref := connectors.FileRef{App: connectors.AppBox, Tenant: "t1", Drive: "d", ItemID: fmt.Sprint("f", i)}
		id, _, err := st.AddAction(ctx, store.Action{Key: ref.Key(), Kind: store.ActionApplyLabel, Ref: ref, LabelID: "L"})
		require.NoError(t, err)
		_, err = st.ClaimAction(ctx, id, now, nil, func(a store.Action) int { return cfg.Limit(string(a.Ref.App), a.Ref.Tenant, a.Manual) })
		require.NoError(t, err)
	}

	var out, errb bytes.Buffer
	require.Equal(t, 0, cmdQuota(ctx, st, cfg, nil, &out, &errb), errb.String())
	require.Contains(t, out.String(), "window 2026-03-10T12:00:00Z, resets 2026-03-11T12:00:00Z = ")
	require.Contains(t, out.String(), "(in 20h30m0s)")
	require.Regexp(t, `t1\s+box\s+auto\s+3\s+3\s+0\s+1`, out.String())
	require.Regexp(t, `t1\s+box\s+manual\s+5\s+0\s+5\s+0`, out.String())

	out.Reset()
	require.Equal(t, 0, cmdQuota(ctx, st, cfg, []string{"-o", "json"}, &out, &errb))
	var rep labeling.QuotaReport
	require.NoError(t, json.Unmarshal(out.Bytes(), &rep))
	require.Equal(t, time.Date(2026, 3, 11, 12, 0, 0, 0, time.UTC), rep.ResetsAt)
	require.Equal(t, []labeling.QuotaRow{
		{Tenant: "t1", App: connectors.AppBox, Allowance: "auto", Limit: 3, Used: 3, Remaining: 0, Paused: 1},
		{Tenant: "t1", App: connectors.AppBox, Allowance: "manual", Limit: 5, Used: 0, Remaining: 5},
	}, rep.Rows)

	out.Reset()
	require.Equal(t, 0, cmdQuota(ctx, st, cfg, []string{"-o", "json", "-app", "gdrive"}, &out, &errb))
	require.NoError(t, json.Unmarshal(out.Bytes(), &rep))
	require.Empty(t, rep.Rows)

	require.Equal(t, 2, cmdQuota(ctx, st, cfg, []string{"-o", "yaml"}, &out, &errb))
	require.Contains(t, errb.String(), "want table or json")
}

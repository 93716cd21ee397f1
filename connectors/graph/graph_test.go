package graph_test

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/connectors/connectortest"
	"github.com/labelgate/labelgate/connectors/graph"
	"github.com/labelgate/labelgate/connectors/graph/emulator"
)

type env struct {
	emu  *emulator.Server
	sp   *graph.Conn
	od   *graph.Conn
	subs *connectors.MemSubscriptions
}

func setup(t testing.TB, opts emulator.Options, tweak ...func(*graph.Config)) *env {
	t.Helper()
	if opts.PageSize == 0 {
		opts.PageSize = 3
	}
	emu, err := emulator.New(opts)
	require.NoError(t, err)
	t.Cleanup(emu.Close)
	subs := &connectors.MemSubscriptions{}
	cfg := graph.Config{
		TenantID:      emu.TenantID(),
		BaseURL:       emu.GraphURL(),
		AuthURL:       emu.URL(),
		ClientID:      opts.ClientID,
		ClientSecret:  opts.ClientSecret,
		Domains:       []string{"contoso.com", "contoso.onmicrosoft.com"},
		Subscriptions: subs,
		MonitorPoll:   5 * time.Millisecond,
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	for _, f := range tweak {
		f(&cfg)
	}
	sp, err := graph.NewSharePoint(cfg)
	require.NoError(t, err)
	od, err := graph.NewOneDrive(cfg)
	require.NoError(t, err)
	return &env{emu: emu, sp: sp, od: od, subs: subs}
}

// control adapts the emulator to the conformance suite.
type control struct {
	emu   *emulator.Server
	conn  *graph.Conn
	drive string
}

func (c control) Drive() string { return c.drive }

func (c control) AddFile(t testing.TB, drive, folder, name string, content []byte) connectors.FileRef {
	id, err := c.emu.AddFile(drive, folder, name, "", content)
	require.NoError(t, err)
	return connectors.FileRef{App: c.conn.App(), Tenant: c.conn.Tenant(), Drive: drive, ItemID: id}
}

func (c control) ModifyFile(t testing.TB, ref connectors.FileRef, content []byte) {
	require.NoError(t, c.emu.ModifyFile(ref.ItemID, content))
}

func (c control) DeleteFile(t testing.TB, ref connectors.FileRef) {
	require.NoError(t, c.emu.DeleteFile(ref.ItemID))
}

// ExpireCursors answers the next delta call with a 410 that carries no fresh link: the case
// the contract hands back to the caller as ErrCursorExpired. (A 410 with a Location the
// connector follows itself: TestDeltaPagingAndResync.)
func (c control) ExpireCursors(testing.TB) {
	c.emu.ExpireDeltaTokens()
	c.emu.FailNext("/v1.0/drives/"+c.drive+"/root/delta", 410, 0, 1)
}

func (c control) Throttle(_ testing.TB, d time.Duration) {
	c.emu.FailNext("/v1.0/", 429, d, 1)
}

func TestConformanceSharePoint(t *testing.T) {
	t.Parallel()
	connectortest.Run(t, func(t *testing.T) connectortest.Fixture {
		e := setup(t, emulator.Options{MeteredBilling: true})
		return connectortest.Fixture{Conn: e.sp, Control: control{emu: e.emu, conn: e.sp, drive: "b!hr-documents"}}
	})
}

func TestConformanceOneDrive(t *testing.T) {
	t.Parallel()
	connectortest.Run(t, func(t *testing.T) connectortest.Fixture {
		e := setup(t, emulator.Options{ClientID: "app", ClientSecret: "s3cret", MeteredBilling: true})
		return connectortest.Fixture{Conn: e.od, Control: control{emu: e.emu, conn: e.od, drive: "b!onedrive-bob"}}
	})
}

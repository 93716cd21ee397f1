package box_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/connectors/box"
	"github.com/labelgate/labelgate/connectors/box/emulator"
	"github.com/labelgate/labelgate/connectors/connectortest"
)

// control drives the Box emulator for the conformance suite.
type control struct {
	emu   *emulator.Emulator
	drive string
	clock *clock
}

func (c control) Drive() string { return c.drive }

func (c control) AddFile(t testing.TB, drive, folder, name string, content []byte) connectors.FileRef {
	t.Helper()
	parent, err := c.emu.EnsureFolder(drive, folder)
	require.NoError(t, err)
	id, err := c.emu.AddFile(parent, name, content, "bob@contoso.com")
	require.NoError(t, err)
	return connectors.FileRef{App: connectors.AppBox, Tenant: c.emu.EnterpriseID(), Drive: drive, ItemID: id}
}

func (c control) ModifyFile(t testing.TB, ref connectors.FileRef, content []byte) {
	t.Helper()
	require.NoError(t, c.emu.ModifyFile(ref.ItemID, content))
}

func (c control) DeleteFile(t testing.TB, ref connectors.FileRef) {
	t.Helper()
	require.NoError(t, c.emu.TrashFile(ref.ItemID))
}

// ExpireCursors lets Box's retention pass: the events go, and the connector's clock moves
// past the retention so that it sees its cursors' age.
func (c control) ExpireCursors(testing.TB) {
	c.emu.ExpireStream()
	c.clock.Advance(22 * 24 * time.Hour)
}

func (c control) Throttle(_ testing.TB, retryAfter time.Duration) {
	c.emu.FailNext(emulator.Fault{Status: 429, RetryAfter: retryAfter})
}

func TestConformance(t *testing.T) {
	t.Parallel()
	connectortest.Run(t, func(t *testing.T) connectortest.Fixture {
		f := setup(t, func(c *box.Config) { c.Roots = []string{"200"} })
		return connectortest.Fixture{Conn: f.conn, Control: control{emu: f.emu, drive: "200", clock: f.clock}}
	})
}

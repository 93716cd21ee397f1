package gdrive_test

import (
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/connectors/connectortest"
	"github.com/labelgate/labelgate/connectors/gdrive/emulator"
)

// control drives the Drive emulator for the conformance suite, in alice's My Drive.
type control struct {
	f       *fixture
	mu      sync.Mutex
	folders map[string]string // path → folder id
}

func (c *control) Drive() string { return aliceDrv }

func (c *control) folder(t testing.TB, path string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if path == "/" || path == "" {
		return ""
	}
	if id, ok := c.folders[path]; ok {
		return id
	}
	parent := ""
	cur := ""
	for _, part := range strings.Split(strings.Trim(path, "/"), "/") {
		cur += "/" + part
		id, ok := c.folders[cur]
		if !ok {
			var err error
			id, err = c.f.em.AddFile(emulator.FileSpec{Name: part, Owner: alice, Folder: true, Parent: parent})
			require.NoError(t, err)
			c.folders[cur] = id
		}
		parent = id
	}
	return parent
}

func (c *control) AddFile(t testing.TB, drive, folder, name string, content []byte) connectors.FileRef {
	require.Equal(t, aliceDrv, drive)
	id, err := c.f.em.AddFile(emulator.FileSpec{Name: name, Owner: alice, Parent: c.folder(t, folder), Data: content,
		MimeType: "application/vnd.openxmlformats-officedocument.wordprocessingml.document"})
	require.NoError(t, err)
	return ref(drive, id)
}

func (c *control) ModifyFile(t testing.TB, r connectors.FileRef, content []byte) {
	require.NoError(t, c.f.em.ModifyFile(r.ItemID, content))
}

func (c *control) DeleteFile(t testing.TB, r connectors.FileRef) {
	require.NoError(t, c.f.em.DeleteFile(r.ItemID))
}

func (c *control) ExpireCursors(testing.TB) { c.f.em.ExpirePageTokens() }

func (c *control) Throttle(_ testing.TB, retryAfter time.Duration) {
	c.f.em.FailNext(emulator.Fault{Status: 429, RetryAfter: strconv.Itoa(int(retryAfter / time.Second)),
		Match: "GET /drive/v3/files"})
}

func TestConformance(t *testing.T) {
	t.Parallel()
	connectortest.Run(t, func(t *testing.T) connectortest.Fixture {
		f := setup(t)
		return connectortest.Fixture{Conn: f.c.Connector(), Control: &control{f: f, folders: map[string]string{}}}
	})
}

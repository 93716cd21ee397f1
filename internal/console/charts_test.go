package console_test

import (
	"context"
	"net/http/httptest"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/admin"
	"github.com/labelgate/labelgate/internal/console"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/internal/store/storetest"
)

// clock is a settable test clock shared by the store (event times) and the console.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// setupDashboard builds an estate over four days: a Public file shared publicly (not
// sensitive), Confidential shared externally, Restricted public, General external, and
// unlabelled files; one unlabelled file is labelled Restricted two days later, one file is
// deleted, and one is discovered today.
func setupDashboard(t *testing.T, sensitive *int) (*httptest.Server, *store.Store) {
	t.Helper()
	ck := &clock{t: time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)}
	st := storetest.OpenSQLite(t, func(c *store.Config) { c.Now = ck.now })
	ctx := context.Background()
	_, err := st.SyncLabels(ctx, connectors.AppBox, "acme", []connectors.Label{
		{ID: "LP", Name: "Public", Priority: 0}, {ID: "LG", Name: "General", Priority: 1},
		{ID: "LC", Name: "Confidential", Priority: 2}, {ID: "LR", Name: "Restricted", Priority: 3}})
	require.NoError(t, err)
	scan := func(id, label string, access connectors.AccessLevel) connectors.FileRef {
		ref := connectors.FileRef{App: connectors.AppBox, Tenant: "acme", Drive: "0", ItemID: id}
		_, err := st.RecordScan(ctx, store.ScanOutcome{File: connectors.File{Ref: ref, Name: id + ".docx", Path: "/", ETag: "e", Access: access},
			Type: "word", LabelID: label})
		require.NoError(t, err)
		return ref
	}
	// Dec 3: six files, three labelled.
	scan("pub", "LP", connectors.AccessPublic)
	scan("conf", "LC", connectors.AccessExternal)
	scan("gen", "LG", connectors.AccessExternal)
	scan("u1", "", connectors.AccessPublic)
	scan("u2", "", connectors.AccessInternal)
	gone := scan("u3", "", connectors.AccessPrivate)
	// Dec 5: u1 gains Restricted (four of six labelled); u3 is deleted (four of five).
	ck.set(time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC))
	scan("u1", "LR", connectors.AccessPublic)
	require.NoError(t, st.MarkDeleted(ctx, gone, "test"))
	// Dec 7 (today): one more unlabelled file (four of six).
	ck.set(time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC))
	scan("u4", "", connectors.AccessPrivate)

	c, err := console.New(console.Config{Store: st, Now: ck.now, SensitivePriority: sensitive,
		Tokens: []admin.Token{admin.NewToken("audit", admin.RoleViewer, "viewer-token-0123456789")}})
	require.NoError(t, err)
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	return srv, st
}

func dashboardBody(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	c := login(t, &bundle{srv: srv}, "viewer-token-0123456789")
	code, body := get(t, c, srv.URL+"/console/")
	require.Equal(t, 200, code)
	return body
}

// matrixRow returns a label's row of the exposure matrix: its class and its cells.
func matrixRow(t *testing.T, body, label string) (string, string) {
	t.Helper()
	m := regexp.MustCompile(`<tr( class="sensitive")?><th scope="row"><span class="swatch ([a-z0-9-]+)" aria-hidden="true"></span>` +
		regexp.QuoteMeta(label) + `[^<]*(?:<span class="muted">\(sensitive\)</span>)?</th>\s*(.*?)</tr>`).FindStringSubmatch(body)
	require.NotNil(t, m, "row for %s", label)
	return m[1] + " " + m[2], m[3]
}

func TestDashboardExposureMatrix(t *testing.T) {
	t.Parallel()
	srv, _ := setupDashboard(t, nil) // default: priority 2 and up
	body := dashboardBody(t, srv)

	// Public · public is not sensitive; Confidential · external and Restricted · public are.
	require.Contains(t, body, `<b id="sensitive-exposed">2</b>`)
	cls, cells := matrixRow(t, body, "Public")
	require.Equal(t, " pal-0", cls, "not sensitive, coolest colour")
	require.Equal(t, `<td class="n" data-access="private">0</td><td class="n" data-access="internal">0</td><td class="n" data-access="external">0</td><td class="n" data-access="public">1</td><td class="n">1</td>`, cells)
	cls, cells = matrixRow(t, body, "Confidential")
	require.Equal(t, ` class="sensitive" pal-2`, cls)
	require.Contains(t, cells, `<td class="n hot" data-access="external">1</td>`)
	cls, cells = matrixRow(t, body, "Restricted")
	require.Equal(t, ` class="sensitive" pal-3`, cls)
	require.Contains(t, cells, `<td class="n hot" data-access="public">1</td>`)
	cls, cells = matrixRow(t, body, "General")
	require.Equal(t, " pal-1", cls)
	require.Contains(t, cells, `<td class="n" data-access="external">1</td>`, "General is below the threshold: not hot")
	cls, cells = matrixRow(t, body, "(no label)")
	require.Equal(t, " pal-none", cls)
	require.Equal(t, `<td class="n" data-access="private">1</td><td class="n" data-access="internal">1</td><td class="n" data-access="external">0</td><td class="n" data-access="public">0</td><td class="n">2</td>`, cells,
		"the deleted file is gone; u4 private, u2 internal")
	// Rows run from the most sensitive label down, unlabelled last.
	require.Regexp(t, `(?s)Restricted.*Confidential.*General.*Public.*\(no label\)</th>`, body[regexp.MustCompile(`id="exposure-matrix"`).FindStringIndex(body)[0]:])
	// The by-label bars carry the same colours.
	require.Regexp(t, `<td>Restricted</td><td><svg[^>]*><rect class="pal-3"`, body)
	require.Regexp(t, `<td>\(no label\)</td><td><svg[^>]*><rect class="pal-none"`, body)
}

func TestDashboardSensitivePriorityConfigured(t *testing.T) {
	t.Parallel()
	three := 3
	srv, _ := setupDashboard(t, &three)
	body := dashboardBody(t, srv)
	require.Contains(t, body, `<b id="sensitive-exposed">1</b>`, "only Restricted · public")
	require.Contains(t, body, "priority ≥ 3")
	cls, _ := matrixRow(t, body, "Confidential")
	require.Equal(t, " pal-2", cls, "Confidential is below 3")
}

// The coverage trend ends at the inventory and reads back through the log: six files with
// three labelled on Dec 3 and 4, four of five after Dec 5's label and deletion, four of six
// today. Axes carry dates and percentages.
func TestDashboardCoverageTrend(t *testing.T) {
	t.Parallel()
	srv, _ := setupDashboard(t, nil)
	body := dashboardBody(t, srv)
	require.Contains(t, body, "Label coverage, 24 Nov 2026 – 7 Dec 2026 (UTC days)")
	want := map[string]string{
		"2026-12-02": "0 of 0 files labelled (0%)",
		"2026-12-03": "3 of 6 files labelled (50%)",
		"2026-12-04": "3 of 6 files labelled (50%)",
		"2026-12-05": "4 of 5 files labelled (80%)",
		"2026-12-06": "4 of 5 files labelled (80%)",
		"2026-12-07": "4 of 6 files labelled (67%)",
	}
	for day, text := range want {
		require.Contains(t, body, `data-day="`+day+`"><title>`+day+`: `+text+`</title>`)
	}
	pts := regexp.MustCompile(`<circle cx="(\d+)" cy="(\d+)" r="3" data-day`).FindAllStringSubmatch(body, -1)
	require.Len(t, pts, 14)
	require.Equal(t, "130", pts[0][2], "0% sits on the x axis")
	require.Equal(t, "70", pts[9][2], "50% on Dec 3 sits on the 50% grid line")
	require.Equal(t, "34", pts[11][2], "80%: 130 - 0.8×120")
	for _, tick := range []string{">0%</text>", ">50%</text>", ">100%</text>", ">Dec 7</text>", ">Dec 5</text>", ">Nov 25</text>"} {
		require.Contains(t, body, tick)
	}
}

// A catalog numbered beyond the palette is spread over it by rank: the least sensitive
// label coolest, the most sensitive warmest.
func TestDashboardPaletteSpreadsLongScales(t *testing.T) {
	t.Parallel()
	st := storetest.OpenSQLite(t)
	ctx := context.Background()
	_, err := st.SyncLabels(ctx, connectors.AppBox, "acme", []connectors.Label{
		{ID: "A", Name: "Low", Priority: 0}, {ID: "B", Name: "Mid", Priority: 10}, {ID: "C", Name: "Top", Priority: 20}})
	require.NoError(t, err)
	for _, l := range []string{"A", "B", "C"} {
		_, err := st.RecordScan(ctx, store.ScanOutcome{File: connectors.File{Ref: connectors.FileRef{App: connectors.AppBox, Tenant: "acme", Drive: "0",
			ItemID: l}, Name: l, Path: "/", ETag: "e", Access: connectors.AccessPublic}, Type: "pdf", LabelID: l})
		require.NoError(t, err)
	}
	c, err := console.New(console.Config{Store: st, Tokens: []admin.Token{admin.NewToken("audit", admin.RoleViewer, "viewer-token-0123456789")}})
	require.NoError(t, err)
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	body := dashboardBody(t, srv)
	for label, class := range map[string]string{"Low": " pal-0", "Mid": ` class="sensitive" pal-2`, "Top": ` class="sensitive" pal-5`} {
		got, _ := matrixRow(t, body, label)
		require.Equal(t, class, got, label)
	}
	require.Contains(t, body, `<b id="sensitive-exposed">2</b>`, "priorities 10 and 20 are at least the default 2")
}

package policies_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/policies"
)

// billionLaughs builds an alias bomb shaped like policy conditions (so the strict field walk
// follows it): each level is an `any` of the previous level nine times, so the text grows
// linearly and the expansion as 9^depth. The anchors sit where the caller's tail puts them.
func billionLaughs(depth int) string {
	var b strings.Builder
	b.WriteString("{any: [&n0 {app: [box]}")
	for i := 1; i <= depth; i++ {
		fmt.Fprintf(&b, ", &n%d {any: [", i)
		for j := range 9 {
			if j > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, "*n%d", i-1)
		}
		b.WriteString("]}")
	}
	b.WriteString("]}")
	return b.String()
}

// A policy document that expands aliases beyond the budget is refused at once, in bounded time
// and memory, before the strict field walk follows a single alias.
func TestParseRefusesAliasBomb(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, doc string }{
		{"one policy", "id: p\nfilter: " + billionLaughs(8) + "\nactions: [{alert: {message: hi}}]\n"},
		{"policies list", "policies:\n  - id: p\n    filter: " + billionLaughs(8) + "\n    actions: [{alert: {message: hi}}]\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Less(t, len(tc.doc), 1024)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			done := make(chan error, 1)
			start := time.Now()
			go func() {
				_, err := policies.Parse([]byte(tc.doc))
				done <- err
			}()
			select {
			case err := <-done:
				runtime.ReadMemStats(&after)
				require.ErrorIs(t, err, policies.ErrInvalid)
				require.ErrorContains(t, err, "aliases are expanded")
				require.Less(t, time.Since(start), 2*time.Second)
				// TotalAlloc counts every test running in parallel too: the bound is loose but far
				// below what following the aliases costs (gigabytes).
				require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(64<<20))
			case <-time.After(10 * time.Second):
				t.Fatal("Parse is still following aliases after 10 s")
			}
		})
	}
}

// Ordinary aliasing (a shared filter) still parses, and a self-referencing alias is refused.
func TestParseAllowsModestAliases(t *testing.T) {
	t.Parallel()
	doc := `
shared: &f {fileType: [word]}
policies:
  - {id: a, filter: *f, actions: [{alert: {message: hi}}]}
  - {id: b, filter: *f, actions: [{alert: {message: hi}}]}
`
	_, err := policies.Parse([]byte(doc))
	// "shared" is not a document field: the strict walk reports it, which proves the budget
	// let the document through to the walk.
	require.ErrorContains(t, err, `unknown field "shared"`)

	_, err = policies.Parse([]byte("a: &a [1, *a]\npolicies: []\n"))
	require.ErrorIs(t, err, policies.ErrInvalid)
}

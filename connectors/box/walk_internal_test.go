package box

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestWalkCursorPrefix: a cursor built from the stack's encoded base plus its top frame decodes
// to the whole stack, and is the documented format: "w1." + base64url(JSON array of frames).
func TestWalkCursorPrefix(t *testing.T) {
	t.Parallel()
	for n := 1; n <= 40; n++ {
		stack := make([]frame, n)
		for i := range stack {
			f := frame{Folder: fmt.Sprintf("%d", 1000+i*37), Marker: strings.Repeat("m", i%5), Skip: i % 3}
			for j := range i % 4 {
				f.Pending = append(f.Pending, fmt.Sprintf("p%d-%d", i, j))
			}
			stack[i] = f
		}
		cur := cursorPrefix(stack[:n-1]).with(stack[n-1])
		got, err := decodeWalkCursor(cur)
		require.NoError(t, err, "stack of %d", n)
		for i := range stack {
			if stack[i].Pending == nil {
				stack[i].Pending = []string{} // an empty pending list is written as []
			}
		}
		require.Equal(t, stack, got, "stack of %d", n)
		raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(cur, walkCursorPrefix))
		require.NoError(t, err)
		var frames [][4]any
		require.NoError(t, json.Unmarshal(raw, &frames), "%s", raw)
		require.Len(t, frames, n)
	}
}

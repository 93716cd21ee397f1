package policies

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/labeling/labeltest"
	"github.com/labelgate/labelgate/policies/content"
)

// An inspection that runs out of budget is surfaced in the decision (and the log); the
// card beyond the budget is not seen.
func TestDecisionSurfacesContentBudget(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.opt.Limits = content.Limits{MaxInflated: 4 << 10}
	eng := e.compile(t, `
policies:
  - {id: cards, name: Cards, severity: high, filter: {content: {preset: creditCard, minCount: 1}}, actions: [{alert: {message: m}}]}
`)
	var text []string
	for range 400 {
		text = append(text, strings.Repeat("filler ", 10))
	}
	text = append(text, "card 4111 1111 1111 1111")
	doc := labeltest.Docx(labeltest.Options{Text: text})
	f := e.file("box", "/", "big.docx", "")
	f.Content = func(context.Context) (io.ReaderAt, int64, error) { return bytes.NewReader(doc), int64(len(doc)), nil }
	d, err := eng.Evaluate(context.Background(), &f)
	require.NoError(t, err)
	require.True(t, d.ContentRead)
	require.True(t, d.ContentBudgetExceeded)
	require.Contains(t, d.ContentError, "content inspection budget exceeded")
	require.Empty(t, d.Matched)

	// Within the default budget the same file is read whole, nothing to report.
	e.opt.Limits = content.Limits{}
	eng = e.compile(t, `
policies:
  - {id: cards, name: Cards, severity: high, filter: {content: {preset: creditCard, minCount: 1}}, actions: [{alert: {message: m}}]}
`)
	d, err = eng.Evaluate(context.Background(), &f)
	require.NoError(t, err)
	require.False(t, d.ContentBudgetExceeded)
	require.Empty(t, d.ContentError)
	require.Equal(t, []string{"cards"}, d.Matched)
}

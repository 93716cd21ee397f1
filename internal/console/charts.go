package console

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/store"
)

// The label catalog carries no colour (store.CatalogLabel has none: Graph's sensitivityLabel
// colour is not synced), so charts colour labels from a fixed palette by their priority, the
// least sensitive cool, the most sensitive warm. Each colour keeps at least 3:1 contrast on
// white (WCAG 1.4.11, non-text contrast), and every bar is also named in text, so colour
// never carries meaning alone. The colours live in console.css as .pal-N classes: the CSP
// allows no inline style.
const paletteSize = 6

// Classes for bars that are not of the organisation's catalog.
const (
	classNoLabel  = "pal-none"
	classExternal = "pal-ext"
)

// labelInfo is what the charts need of a catalog label.
type labelInfo struct {
	Name     string
	Priority int
	// Org is false for another tenant's label: its priority is that tenant's, not ours.
	Org bool
}

// labelInfos reads the catalog once: names, priorities, and whether the label is the
// organisation's own, by label id.
func (c *Console) labelInfos(ctx context.Context) (map[string]labelInfo, error) {
	ls, err := c.cfg.Store.ListLabels(ctx, store.LabelFilter{IncludeDeleted: true})
	if err != nil {
		return nil, err
	}
	out := map[string]labelInfo{}
	for _, l := range ls {
		cur, seen := out[l.ID]
		switch {
		case !l.External && l.Name != "":
			// The same MIP label synced for several apps: keep the highest priority seen.
			if !seen || !cur.Org || l.Priority > cur.Priority {
				out[l.ID] = labelInfo{Name: l.Name, Priority: l.Priority, Org: true}
			}
		case !seen:
			name := l.Name
			if name == "" {
				name = "External label · " + l.ID[:min(8, len(l.ID))] + "…"
			}
			out[l.ID] = labelInfo{Name: name}
		}
	}
	return out, nil
}

// paletteOf maps the organisation's distinct label priorities onto the palette.
func paletteOf(infos map[string]labelInfo) map[int]string {
	var prios []int
	seen := map[int]bool{}
	for _, li := range infos {
		if li.Org && !seen[li.Priority] {
			seen[li.Priority] = true
			prios = append(prios, li.Priority)
		}
	}
	sort.Ints(prios)
	out := map[int]string{}
	// A catalog numbered within the palette (Microsoft's default five labels are 0–4)
	// keeps one colour per priority, so a label's colour does not move when others are
	// added; a longer scale is spread over the palette by rank.
	direct := len(prios) == 0 || (prios[0] >= 0 && prios[len(prios)-1] < paletteSize)
	for rank, p := range prios {
		idx := p
		if !direct {
			idx = rank * (paletteSize - 1) / max(1, len(prios)-1)
		}
		out[p] = fmt.Sprintf("pal-%d", idx)
	}
	return out
}

func labelClass(li labelInfo, ok bool, pal map[int]string) string {
	if !ok || !li.Org {
		return classExternal
	}
	return pal[li.Priority]
}

// accessColumns are the exposure matrix's columns, narrowest first.
var accessColumns = []connectors.AccessLevel{connectors.AccessPrivate, connectors.AccessInternal, connectors.AccessExternal, connectors.AccessPublic}

// matrixCell is one label × access count; Hot marks a sensitive label shared outside.
type matrixCell struct {
	Access string
	N      int64
	Hot    bool
}

type matrixRow struct {
	Label     string
	Class     string
	Priority  int
	Org       bool
	Sensitive bool
	Cells     []matrixCell
	Total     int64
}

// exposureMatrix is the dashboard's label × access table.
type exposureMatrix struct {
	Access    []string
	Rows      []matrixRow
	Threshold int
	// SensitiveExposed counts files with a sensitive label shared externally or publicly.
	SensitiveExposed int64
}

// buildMatrix groups the inventory by label (by name, so one MIP label synced for several
// apps is one row) and access level. A label is sensitive when it is the organisation's
// and its priority is at least threshold; another tenant's label is shown but never
// counted sensitive, since its priority is on that tenant's scale.
func buildMatrix(counts []store.FileCount, infos map[string]labelInfo, pal map[int]string, threshold int) exposureMatrix {
	m := exposureMatrix{Threshold: threshold}
	col := map[connectors.AccessLevel]int{}
	for i, a := range accessColumns {
		m.Access = append(m.Access, string(a))
		col[a] = i
	}
	rows := map[string]*matrixRow{}
	for _, fc := range counts {
		name, class, li := "(no label)", classNoLabel, labelInfo{}
		ok := false
		if fc.LabelID != "" {
			li, ok = infos[fc.LabelID]
			name = li.Name
			if !ok {
				name = fc.LabelID
			}
			class = labelClass(li, ok, pal)
		}
		r := rows[name]
		if r == nil {
			r = &matrixRow{Label: name, Class: class, Priority: li.Priority, Org: ok && li.Org,
				Sensitive: ok && li.Org && li.Priority >= threshold, Cells: make([]matrixCell, len(accessColumns))}
			for i, a := range accessColumns {
				r.Cells[i].Access = string(a)
			}
			rows[name] = r
		}
		i, known := col[fc.Access]
		if !known {
			i = 0 // an access level the provider did not report reads as private, as Rank does
		}
		r.Cells[i].N += fc.N
		r.Total += fc.N
	}
	for _, r := range rows {
		for i := range r.Cells {
			if r.Sensitive && r.Cells[i].N > 0 && (accessColumns[i] == connectors.AccessExternal || accessColumns[i] == connectors.AccessPublic) {
				r.Cells[i].Hot = true
				m.SensitiveExposed += r.Cells[i].N
			}
		}
		m.Rows = append(m.Rows, *r)
	}
	// Most sensitive first; the organisation's labels, then other tenants', then no label.
	rank := func(r matrixRow) int {
		switch {
		case r.Org:
			return 0
		case r.Class == classNoLabel:
			return 2
		}
		return 1
	}
	sort.Slice(m.Rows, func(i, j int) bool {
		a, b := m.Rows[i], m.Rows[j]
		if rank(a) != rank(b) {
			return rank(a) < rank(b)
		}
		if a.Priority != b.Priority {
			return a.Priority > b.Priority
		}
		return a.Label < b.Label
	})
	return m
}

// The coverage chart's plot area in its viewBox (0 0 600 160).
const (
	plotLeft, plotRight = 48, 584
	plotTop, plotBottom = 10, 130
)

type tick struct {
	X, Y int
	Text string
}

// coverageChart is the coverage trend: labelled share of files per UTC day, with dated
// x ticks and percentage y ticks.
type coverageChart struct {
	Points         []point
	Path           string
	XTicks, YTicks []tick
	From, To       string
	// Partial: the log was too long to read back, so only today is drawn.
	Partial bool
}

// layoutCoverage places the points and the axes.
func layoutCoverage(pts []point, days []time.Time) coverageChart {
	ch := coverageChart{Points: pts}
	n := len(pts)
	if n == 0 {
		return ch
	}
	step := 0
	if n > 1 {
		step = (plotRight - plotLeft) / (n - 1)
	}
	var path strings.Builder
	for i := range pts {
		ratio := 0.0
		if pts[i].Total > 0 {
			ratio = max(0, min(1, float64(pts[i].Labelled)/float64(pts[i].Total)))
		}
		pts[i].Share = fmt.Sprintf("%.0f%%", 100*ratio)
		pts[i].X = plotLeft + i*step
		pts[i].Y = plotBottom - int(float64(plotBottom-plotTop)*ratio+0.5)
		if i == 0 {
			fmt.Fprintf(&path, "M%d %d", pts[i].X, pts[i].Y)
		} else {
			fmt.Fprintf(&path, " L%d %d", pts[i].X, pts[i].Y)
		}
		// Every other day is labelled, and always the last (today).
		if (n-1-i)%2 == 0 {
			ch.XTicks = append(ch.XTicks, tick{X: pts[i].X, Y: plotBottom, Text: days[i].Format("Jan 2")})
		}
	}
	for _, p := range []int{0, 50, 100} {
		ch.YTicks = append(ch.YTicks, tick{X: plotLeft, Y: plotBottom - (plotBottom-plotTop)*p/100, Text: fmt.Sprintf("%d%%", p)})
	}
	ch.Path = path.String()
	ch.From, ch.To = days[0].Format("2 Jan 2006"), days[n-1].Format("2 Jan 2006")
	return ch
}

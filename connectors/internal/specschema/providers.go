package specschema

import (
	"path/filepath"
	"strings"
	"sync"
)

// The descriptions are large (the Graph CSDL is 3.4 MB); each test binary parses each one
// once, on first use, and shares the result (schemas are read-only after building).
var (
	graphOnce = sync.OnceValues(func() (*CSDL, error) {
		dir, err := SpecsDir()
		if err != nil {
			return nil, err
		}
		c, err := LoadCSDL(filepath.Join(dir, "graph-v1.0.csdl"), GraphAnnotation)
		if err != nil {
			return nil, err
		}
		// The one property the suite allows beyond the CSDL: the Graph docs' example for
		// "List sensitivityLabels" shows isEnabled, which the v1.0 CSDL's sensitivityLabel
		// lacks (../shared/specs/README.md: accept both); without it a label disabled at
		// the source could not be seen at all.
		c.extend("microsoft.graph.sensitivityLabel", "isEnabled", "Edm.Boolean")
		return c, nil
	})
)

// Graph is the Microsoft Graph v1.0 CSDL from ../shared/specs, parsed once per process.
func Graph() (*CSDL, error) { return graphOnce() }

// graphControl is OData control information, the "@odata." annotations OData JSON Format 4.01
// §4.5 defines (context, metadataEtag, type, count, nextLink, deltaLink, id, editLink,
// readLink, etag, navigationLink, associationLink, media*) — the CSDL does not list them.
var graphControl = map[string]bool{
	"context": true, "metadataEtag": true, "type": true, "count": true, "nextLink": true,
	"deltaLink": true, "id": true, "editLink": true, "readLink": true, "etag": true,
	"navigationLink": true, "associationLink": true, "mediaEditLink": true, "mediaReadLink": true,
	"mediaContentType": true, "mediaEtag": true,
}

// graphInstance are the instance annotations Graph documents for driveItem ("Instance
// attributes" in the driveItem resource type: @microsoft.graph.downloadUrl,
// @microsoft.graph.conflictBehavior, @microsoft.graph.sourceUrl).
var graphInstance = map[string]bool{
	"microsoft.graph.downloadUrl": true, "microsoft.graph.conflictBehavior": true, "microsoft.graph.sourceUrl": true,
}

// GraphAnnotation allows the annotations above, on an object ("@odata.nextLink") or on one of
// its properties ("children@odata.nextLink", OData JSON Format 4.01 §20).
func GraphAnnotation(key string) bool {
	_, term, ok := strings.Cut(key, "@")
	if !ok {
		return false
	}
	if c, ok := strings.CutPrefix(term, "odata."); ok {
		return graphControl[c]
	}
	return graphInstance[term]
}

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

var boxOnce = sync.OnceValues(func() (*OpenAPI, error) {
	dir, err := SpecsDir()
	if err != nil {
		return nil, err
	}
	o, err := LoadOpenAPI(filepath.Join(dir, "box-openapi.json"))
	if err != nil {
		return nil, err
	}
	// ClientError's code enum lists generic codes only; Box's reference documents these
	// operation-specific ones as well: "instance_not_found" (404, Get metadata instance on
	// file, when the file has no instance of the template) and "tuple_already_exists" (409,
	// Create metadata instance on file / Add classification to file, when one exists).
	ce, err := o.Schema("ClientError")
	if err != nil {
		return nil, err
	}
	if code := ce.Props["code"]; code != nil {
		code.Enum = append(code.Enum, "instance_not_found", "tuple_already_exists")
	}
	return o, nil
})

// Box is the Box Platform OpenAPI description from ../shared/specs, parsed once per process.
func Box() (*OpenAPI, error) { return boxOnce() }

// BoxWebhookPayload is the body of a V2 webhook delivery. The OpenAPI document describes the
// webhook object but not what Box POSTs to it; this is Box's documented payload
// (developer.box.com, Guides › Webhooks › V2 › "Webhook notifications": type webhook_event,
// id, created_at, trigger, webhook, created_by, source, additional_info), built from the
// description's own Webhook--Mini, User--Mini, File and Folder schemas.
func BoxWebhookPayload(o *OpenAPI) (*Schema, error) {
	ref := func(name string) (*Schema, error) { return o.Schema(name) }
	hook, err := ref("Webhook--Mini")
	if err != nil {
		return nil, err
	}
	user, err := ref("User--Mini")
	if err != nil {
		return nil, err
	}
	file, err := ref("File")
	if err != nil {
		return nil, err
	}
	folder, err := ref("Folder")
	if err != nil {
		return nil, err
	}
	str := &Schema{Name: "string", Kind: KindString}
	return &Schema{Name: "webhook_event (Box docs)", Kind: KindObject, Props: map[string]*Schema{
		"type":            {Name: "string", Kind: KindString, Enum: []string{"webhook_event"}},
		"id":              str,
		"created_at":      str,
		"trigger":         str,
		"webhook":         hook,
		"created_by":      user,
		"source":          {Name: "File or Folder", AnyOf: []*Schema{file, folder}},
		"additional_info": {Name: "additional_info", Kind: KindAny},
	}, Required: []string{"type", "id", "created_at", "trigger", "webhook", "source"}}, nil
}

var (
	driveOnce = sync.OnceValues(func() (*Discovery, error) {
		dir, err := GoogleAPIDir()
		if err != nil {
			return nil, err
		}
		return LoadDiscovery(filepath.Join(dir, "drive", "v3", "drive-api.json"))
	})
	labelsOnce = sync.OnceValues(func() (*Discovery, error) {
		dir, err := GoogleAPIDir()
		if err != nil {
			return nil, err
		}
		return LoadDiscovery(filepath.Join(dir, "drivelabels", "v2", "drivelabels-api.json"))
	})
)

// Drive is the Drive v3 discovery document shipped in the google.golang.org/api module
// version go.mod requires, parsed once per process.
func Drive() (*Discovery, error) { return driveOnce() }

// DriveLabels is the Drive Labels v2 discovery document from the same module.
func DriveLabels() (*Discovery, error) { return labelsOnce() }

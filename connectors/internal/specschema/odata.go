package specschema

import (
	"fmt"
	"net/http"
	"strings"
)

// Route is what a description says about one request: the schemas of its JSON request body
// and of its successful JSON response, and the description-side name of the resource.
type Route struct {
	Resource string  // e.g. "microsoft.graph.driveItem", "Collection(microsoft.graph.permission)", "POST /webhooks", "drive.files.get"
	Request  *Schema // nil: the description defines no JSON request body
	Response *Schema // nil: no JSON response body is defined for a success
	// Responses by status code for descriptions that have them (OpenAPI); "default" and
	// "2XX"-style keys are included as given.
	Responses map[string]*Schema
}

// Resolve maps a Graph request (method and path below the service root, e.g.
// "/drives/b!x/items/01AB/permissions") to the types the CSDL gives it: entity sets and
// singletons of the entity container, then key segments, structural and navigation
// properties along each type's base-type chain, bound actions and functions (with their
// parameters as the request body), and type casts.
func (c *CSDL) Resolve(method, path string) (Route, error) {
	segs := splitODataPath(strings.Trim(path, "/"))
	if len(segs) == 0 {
		return Route{}, fmt.Errorf("specschema: empty Graph path")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	name, _, _ := strings.Cut(segs[0], "(")
	var typ string
	var coll bool
	if t, ok := c.sets[name]; ok {
		typ, coll = t, true
	} else if t, ok := c.single[name]; ok {
		typ = t
	} else {
		return Route{}, fmt.Errorf("specschema: %q is no entity set or singleton of the Graph entity container", name)
	}
	var (
		op        *csdlOp
		stream    bool
		owner     string
		resultSet = true // typ/coll describe a result
	)
	for _, seg := range segs[1:] {
		name, _, parens := strings.Cut(seg, "(")
		if op != nil {
			return Route{}, fmt.Errorf("specschema: segment %q after operation %s", seg, op.name)
		}
		if coll {
			if o := c.findOp(name, typ, true); o != nil {
				op = o
				continue
			}
			if parens {
				return Route{}, fmt.Errorf("specschema: no function %q bound to Collection(%s)", name, typ)
			}
			coll = false // a key segment
			continue
		}
		if p, ok := c.findProp(typ, name); ok {
			t, isColl := elemType(p.typ)
			if t == "Edm.Stream" {
				stream, owner = true, typ
			}
			typ, coll = t, isColl
			continue
		}
		if o := c.findOp(name, typ, false); o != nil {
			op = o
			continue
		}
		if q := c.qualify(name); c.types[q] != nil && c.derivesFrom(q, typ) {
			typ = q
			continue
		}
		return Route{}, fmt.Errorf("specschema: %s has no property, navigation property or bound operation %q", typ, name)
	}
	r := Route{Resource: typ}
	if coll {
		r.Resource = "Collection(" + typ + ")"
	}
	switch {
	case op != nil:
		r.Resource = fmt.Sprintf("%s bound to %s", op.name, r.Resource)
		if op.action && method == http.MethodPost {
			req := &Schema{Name: op.name + " parameters", Kind: KindObject, Props: map[string]*Schema{}, Annotation: c.annotation}
			for _, p := range op.params[1:] {
				if ps := c.schemaLocked(p.typ, p.nullable); ps != nil {
					req.Props[p.name] = ps
				}
				if !p.nullable {
					req.Required = append(req.Required, p.name)
				}
			}
			r.Request = req
		}
		if op.returns != "" {
			r.Response = c.resultLocked(op.returns)
		}
		resultSet = false
	case stream:
		// A stream property's body is bytes; writing it answers the owning entity
		// (Graph "Upload or replace the contents of a driveItem" returns the driveItem).
		r.Resource = owner + " stream"
		if method == http.MethodPut {
			r.Response = c.resultLocked(owner)
		}
		resultSet = false
	}
	if resultSet {
		t := typ
		if coll {
			t = "Collection(" + typ + ")"
		}
		switch method {
		case http.MethodGet:
			r.Response = c.resultLocked(t)
		case http.MethodPost:
			// POST to a collection creates one entity and answers it.
			r.Request = c.schemaLocked(typ, false)
			r.Response = c.schemaLocked(typ, false)
		case http.MethodPatch, http.MethodPut:
			r.Request = c.schemaLocked(typ, false)
			r.Response = c.schemaLocked(typ, false)
		}
	}
	return r, nil
}

// resultLocked is the JSON shape of a result of type t (OData JSON Format 4.01 §11 and §12):
// a collection is {"value": [...]} with its control information, a structured value is the
// object itself, a primitive is {"value": x}.
func (c *CSDL) resultLocked(t string) *Schema {
	in, coll := elemType(t)
	s := c.schemaLocked(t, false)
	if s == nil {
		return nil
	}
	if coll || c.types[in] == nil {
		return &Schema{Name: t, Kind: KindObject, Props: map[string]*Schema{"value": s}, Required: []string{"value"}, Annotation: c.annotation}
	}
	return s
}

// ResultOf is the JSON shape of a result of the named type (see Resolve).
func (c *CSDL) ResultOf(t string) (*Schema, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.resultLocked(c.qualifyType(t))
	if s == nil {
		return nil, fmt.Errorf("specschema: csdl has no type %q", t)
	}
	return s, nil
}

// splitODataPath splits on "/" outside parentheses and quotes.
func splitODataPath(p string) []string {
	var out []string
	depth, quote, start := 0, false, 0
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '\'':
			quote = !quote
		case '(':
			if !quote {
				depth++
			}
		case ')':
			if !quote {
				depth--
			}
		case '/':
			if depth == 0 && !quote {
				out = append(out, p[start:i])
				start = i + 1
			}
		}
	}
	if start < len(p) {
		out = append(out, p[start:])
	}
	return out
}

// ODataError is the error body of OData JSON Format 4.01 §21.1 ("error" with code, message,
// target, details, innererror), which the CSDL does not describe: Graph answers errors in it
// and spells the nested object "innerError" (Graph docs, "Microsoft Graph error responses and
// resource types").
func ODataError() *Schema {
	str := &Schema{Name: "Edm.String", Kind: KindString}
	detail := &Schema{Name: "odata.errorDetail", Kind: KindObject, Props: map[string]*Schema{"code": str, "message": str, "target": str}, Required: []string{"code", "message"}}
	errObj := &Schema{Name: "odata.error", Kind: KindObject, Required: []string{"code", "message"}, Props: map[string]*Schema{
		"code": str, "message": str, "target": str,
		"details":    {Name: "Collection(odata.errorDetail)", Kind: KindArray, Items: detail},
		"innererror": {Name: "odata.innererror", Kind: KindObject, Open: true},
		"innerError": {Name: "odata.innererror", Kind: KindObject, Open: true},
	}}
	return &Schema{Name: "odata.errorResponse", Kind: KindObject, Props: map[string]*Schema{"error": errObj}, Required: []string{"error"}}
}

package specschema

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// OpenAPI is a parsed OpenAPI 3 document (Box's): operations by path template and method,
// with schemas built on demand from components, $ref, allOf, oneOf/anyOf, nullable and
// required.
type OpenAPI struct {
	doc struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	templates []pathTemplate

	mu    sync.Mutex
	named map[string]*Schema
}

type pathTemplate struct {
	key      string // as in the document, possibly with a "#variant" suffix
	segs     []string
	literals int
}

type oaOperation struct {
	RequestBody *struct {
		Content map[string]struct {
			Schema json.RawMessage `json:"schema"`
		} `json:"content"`
	} `json:"requestBody"`
	Responses map[string]struct {
		Ref     string `json:"$ref"`
		Content map[string]struct {
			Schema json.RawMessage `json:"schema"`
		} `json:"content"`
	} `json:"responses"`
}

// LoadOpenAPI parses an OpenAPI JSON file.
func LoadOpenAPI(path string) (*OpenAPI, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("specschema: openapi: %w", err)
	}
	o := &OpenAPI{named: map[string]*Schema{}}
	if err := json.Unmarshal(b, &o.doc); err != nil {
		return nil, fmt.Errorf("specschema: openapi %s: %w", path, err)
	}
	if len(o.doc.Paths) == 0 {
		return nil, fmt.Errorf("specschema: openapi %s: no paths", path)
	}
	for k := range o.doc.Paths {
		p, _, _ := strings.Cut(k, "#")
		t := pathTemplate{key: k, segs: strings.Split(strings.Trim(p, "/"), "/")}
		for _, s := range t.segs {
			if !strings.HasPrefix(s, "{") {
				t.literals++
			}
		}
		o.templates = append(o.templates, t)
	}
	sort.Slice(o.templates, func(i, j int) bool { return o.templates[i].key < o.templates[j].key })
	return o, nil
}

func (t pathTemplate) match(segs []string) bool {
	if len(segs) != len(t.segs) {
		return false
	}
	for i, s := range t.segs {
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
			if segs[i] == "" {
				return false
			}
			continue
		}
		if s != segs[i] {
			return false
		}
	}
	return true
}

// Operation resolves a request path (relative to the API's server, e.g. "/files/12/content")
// and method to the operations of its most specific path template (most literal segments;
// "#variant" paths of the same template are alternatives).
func (o *OpenAPI) Operation(method, path string) (template string, ops []json.RawMessage, err error) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	best := -1
	for _, t := range o.templates {
		if !t.match(segs) {
			continue
		}
		raw, ok := o.doc.Paths[t.key][strings.ToLower(method)]
		if !ok {
			continue
		}
		switch {
		case t.literals > best:
			best, ops = t.literals, []json.RawMessage{raw}
			template, _, _ = strings.Cut(t.key, "#")
		case t.literals == best:
			ops = append(ops, raw)
		}
	}
	if best < 0 {
		return "", nil, fmt.Errorf("no %s operation on a path matching %s", method, path)
	}
	return template, ops, nil
}

// Resolve gives the request schema (for the request's media type) and the response schemas by
// status of a request; several "#variant" operations of one path become alternatives.
func (o *OpenAPI) Resolve(method, path, requestType string) (Route, error) {
	tmpl, ops, err := o.Operation(method, path)
	if err != nil {
		return Route{}, err
	}
	r := Route{Resource: strings.ToUpper(method) + " " + tmpl, Responses: map[string]*Schema{}}
	var reqAlts []*Schema
	resAlts := map[string][]*Schema{}
	for _, raw := range ops {
		var op oaOperation
		if err := json.Unmarshal(raw, &op); err != nil {
			return Route{}, fmt.Errorf("specschema: openapi %s %s: %w", method, tmpl, err)
		}
		if op.RequestBody != nil {
			mt := mediaType(requestType)
			c, ok := op.RequestBody.Content[mt]
			if !ok {
				c, ok = op.RequestBody.Content["application/json"]
			}
			if ok && c.Schema != nil {
				reqAlts = append(reqAlts, o.build(c.Schema, ""))
			}
		}
		for code, resp := range op.Responses {
			if c, ok := resp.Content["application/json"]; ok && c.Schema != nil {
				resAlts[code] = append(resAlts[code], o.build(c.Schema, ""))
			} else if _, ok := resAlts[code]; !ok {
				resAlts[code] = nil // described, with no JSON body
			}
		}
	}
	r.Request = alternatives(reqAlts)
	for code, alts := range resAlts {
		r.Responses[code] = alternatives(alts)
	}
	return r, nil
}

// ResponseFor picks the response schema for a status: the exact code, then "2XX"-style,
// then "default". ok is false when the description has no response for it at all.
func (r Route) ResponseFor(status int) (s *Schema, ok bool) {
	code := strconv.Itoa(status)
	for _, k := range []string{code, code[:1] + "XX", "default"} {
		if s, ok := r.Responses[k]; ok {
			return s, true
		}
	}
	return nil, false
}

func alternatives(alts []*Schema) *Schema {
	switch len(alts) {
	case 0:
		return nil
	case 1:
		return alts[0]
	}
	return &Schema{Name: alts[0].Name, AnyOf: alts}
}

// Schema returns the named component schema.
func (o *OpenAPI) Schema(name string) (*Schema, error) {
	raw, ok := o.doc.Components.Schemas[name]
	if !ok {
		return nil, fmt.Errorf("specschema: openapi has no schema %q", name)
	}
	_ = raw
	return o.build(json.RawMessage(`{"$ref":"#/components/schemas/`+name+`"}`), ""), nil
}

type oaSchema struct {
	Ref                  string                     `json:"$ref"`
	Type                 string                     `json:"type"`
	Format               string                     `json:"format"`
	Title                string                     `json:"title"`
	Properties           map[string]json.RawMessage `json:"properties"`
	Required             []string                   `json:"required"`
	Items                json.RawMessage            `json:"items"`
	Nullable             bool                       `json:"nullable"`
	AdditionalProperties json.RawMessage            `json:"additionalProperties"`
	AllOf                []json.RawMessage          `json:"allOf"`
	OneOf                []json.RawMessage          `json:"oneOf"`
	AnyOf                []json.RawMessage          `json:"anyOf"`
	Enum                 []any                      `json:"enum"`
}

// build turns a schema node into a Schema; named components are built once (and may refer to
// themselves).
func (o *OpenAPI) build(raw json.RawMessage, name string) *Schema {
	var n oaSchema
	if err := json.Unmarshal(raw, &n); err != nil {
		return &Schema{Name: "unparsable schema", Kind: KindAny}
	}
	if n.Ref != "" {
		ref := strings.TrimPrefix(n.Ref, "#/components/schemas/")
		o.mu.Lock()
		s, ok := o.named[ref]
		if !ok {
			s = &Schema{Name: ref}
			o.named[ref] = s
		}
		o.mu.Unlock()
		if ok {
			return s
		}
		body, found := o.doc.Components.Schemas[ref]
		if !found {
			*s = Schema{Name: ref, Kind: KindAny}
			return s
		}
		*s = *o.build(body, ref)
		if n.Nullable {
			c := *s
			c.Nullable = true
			return &c
		}
		return s
	}
	if name == "" {
		name = n.Title
	}
	if name == "" {
		name = "inline"
	}
	s := &Schema{Name: name, Nullable: n.Nullable}
	if len(n.AllOf) > 0 {
		var parts []*Schema
		for _, part := range n.AllOf {
			switch empty, nullable := emptySchema(part); {
			case nullable:
				s.Nullable = true // allOf [X, {nullable: true}]: Box's way of saying "X or null"
			case !empty:
				parts = append(parts, o.build(part, ""))
			}
		}
		switch {
		case len(parts) == 0 && len(n.Properties) == 0:
			s.Kind = KindAny
			return s
		case len(parts) == 1 && len(n.Properties) == 0:
			// allOf [X, {description}] is how the Box description annotates a use of X:
			// it is X (kept by pointer, since X may still be under construction).
			s.Name = parts[0].Name
			s.AnyOf = parts
			return s
		}
		// allOf extends a base schema with more properties (File--Full = File + ...): the
		// merged object allows every part's properties and requires every part's required.
		s.Kind = KindObject
		s.Props = map[string]*Schema{}
		for _, p := range parts {
			mergeInto(s, p)
		}
		for k, v := range n.Properties {
			s.Props[k] = o.build(v, "")
		}
		s.Required = append(s.Required, n.Required...)
		return s
	}
	for _, list := range [][]json.RawMessage{n.OneOf, n.AnyOf} {
		for _, alt := range list {
			s.AnyOf = append(s.AnyOf, o.build(alt, ""))
		}
	}
	if len(s.AnyOf) > 0 {
		return s
	}
	switch n.Type {
	case "object", "":
		if n.Type == "" && len(n.Properties) == 0 && len(n.AdditionalProperties) == 0 {
			s.Kind = KindAny
			return s
		}
		s.Kind = KindObject
		s.Props = map[string]*Schema{}
		for k, v := range n.Properties {
			s.Props[k] = o.build(v, "")
		}
		s.Required = n.Required
		switch ap := strings.TrimSpace(string(n.AdditionalProperties)); {
		case ap == "" || ap == "false":
			// Read as closed: the Box description lists the fields it returns, and an
			// object left open could never show an invented property.
		case ap == "true" || ap == "{}":
			s.Open = true
		default:
			s.Values = o.build(n.AdditionalProperties, "")
		}
	case "array":
		s.Kind = KindArray
		s.Items = &Schema{Name: "any", Kind: KindAny}
		if n.Items != nil {
			s.Items = o.build(n.Items, "")
		}
	case "string":
		s.Kind = KindString
		s.Format = n.Format
		for _, e := range n.Enum {
			if str, ok := e.(string); ok {
				s.Enum = append(s.Enum, str)
			}
		}
	case "integer":
		s.Kind = KindInteger
	case "number":
		s.Kind = KindNumber
	case "boolean":
		s.Kind = KindBoolean
	default:
		s.Kind = KindAny
	}
	return s
}

// mergeInto adds p's properties and required list to s (allOf). A part that is itself an
// alternative or a reference still being built contributes what it has.
func mergeInto(s, p *Schema) {
	if p == nil {
		return
	}
	for k, v := range p.Props {
		s.Props[k] = v
	}
	s.Required = append(s.Required, p.Required...)
	s.Open = s.Open || p.Open
	if p.Values != nil {
		s.Values = p.Values
	}
	for _, alt := range p.AnyOf {
		mergeInto(s, alt)
	}
}

// emptySchema reports whether a schema node constrains nothing (Box's allOf lists carry
// parts with only a description or example), and whether it only says "nullable: true".
func emptySchema(raw json.RawMessage) (empty, nullable bool) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return false, false
	}
	for k, v := range m {
		switch {
		case k == "description", k == "example", k == "title", strings.HasPrefix(k, "x-"):
		case k == "nullable":
			nullable = string(v) == "true"
		default:
			return false, false
		}
	}
	return !nullable, nullable
}

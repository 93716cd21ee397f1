package specschema

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
)

// Discovery is a parsed Google API discovery document: its methods (id, HTTP method, path
// below the service root, request and response schema, media-upload paths) and schemas.
type Discovery struct {
	Name        string
	servicePath string
	methods     []*discMethod
	schemas     map[string]json.RawMessage

	mu    sync.Mutex
	built map[string]*Schema
}

type discMethod struct {
	id, httpMethod string
	templates      []*regexp.Regexp // service path and media-upload paths, absolute
	request        string
	response       string
}

type discDoc struct {
	Name        string                     `json:"name"`
	ServicePath string                     `json:"servicePath"`
	Resources   map[string]discResource    `json:"resources"`
	Methods     map[string]discMethodJSON  `json:"methods"`
	Schemas     map[string]json.RawMessage `json:"schemas"`
}

type discResource struct {
	Methods   map[string]discMethodJSON `json:"methods"`
	Resources map[string]discResource   `json:"resources"`
}

type discMethodJSON struct {
	ID         string `json:"id"`
	Path       string `json:"path"`
	FlatPath   string `json:"flatPath"`
	HTTPMethod string `json:"httpMethod"`
	Request    *struct {
		Ref string `json:"$ref"`
	} `json:"request"`
	Response *struct {
		Ref string `json:"$ref"`
	} `json:"response"`
	MediaUpload *struct {
		Protocols map[string]struct {
			Path string `json:"path"`
		} `json:"protocols"`
	} `json:"mediaUpload"`
}

var templateParam = regexp.MustCompile(`\{\+?[A-Za-z0-9_]+\}`)

// template turns "/drive/v3/files/{fileId}" into an anchored regexp, a parameter matching
// one path segment ({+name} reserved expansion too: labelgate's ids have no slashes).
func template(p string) *regexp.Regexp {
	parts := templateParam.Split(p, -1)
	for i := range parts {
		parts[i] = regexp.QuoteMeta(parts[i])
	}
	return regexp.MustCompile("^" + strings.Join(parts, "[^/]+") + "$")
}

// LoadDiscovery parses a discovery document.
func LoadDiscovery(path string) (*Discovery, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("specschema: discovery: %w", err)
	}
	var doc discDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("specschema: discovery %s: %w", path, err)
	}
	d := &Discovery{Name: doc.Name, servicePath: doc.ServicePath, schemas: doc.Schemas, built: map[string]*Schema{}}
	var walk func(map[string]discMethodJSON, map[string]discResource)
	walk = func(ms map[string]discMethodJSON, rs map[string]discResource) {
		for _, m := range ms {
			p := m.FlatPath
			if p == "" {
				p = m.Path
			}
			dm := &discMethod{id: m.ID, httpMethod: m.HTTPMethod, templates: []*regexp.Regexp{template("/" + doc.ServicePath + p)}}
			if m.Request != nil {
				dm.request = m.Request.Ref
			}
			if m.Response != nil {
				dm.response = m.Response.Ref
			}
			if m.MediaUpload != nil {
				for _, proto := range m.MediaUpload.Protocols {
					dm.templates = append(dm.templates, template(proto.Path))
				}
			}
			d.methods = append(d.methods, dm)
		}
		for _, r := range rs {
			walk(r.Methods, r.Resources)
		}
	}
	walk(doc.Methods, doc.Resources)
	if len(d.methods) == 0 {
		return nil, fmt.Errorf("specschema: discovery %s: no methods", path)
	}
	return d, nil
}

// Resolve finds the method of an HTTP method and absolute path ("/drive/v3/files/abc",
// "/upload/drive/v3/files/abc") and gives its request and response schemas. A method with
// literal segments wins over one with parameters in their place (changes/startPageToken over
// a hypothetical changes/{id}).
func (d *Discovery) Resolve(method, path string) (Route, error) {
	var best *discMethod
	bestParams := 1 << 30
	for _, m := range d.methods {
		if !strings.EqualFold(m.httpMethod, method) {
			continue
		}
		for _, t := range m.templates {
			if t.MatchString(path) {
				if n := strings.Count(t.String(), "[^/]+"); n < bestParams {
					best, bestParams = m, n
				}
			}
		}
	}
	if best == nil {
		return Route{}, fmt.Errorf("no %s method of %s matches %s", method, d.Name, path)
	}
	r := Route{Resource: best.id}
	d.mu.Lock()
	defer d.mu.Unlock()
	if best.request != "" {
		r.Request = d.ref(best.request, best.id)
	}
	if best.response != "" {
		r.Response = d.ref(best.response, best.id)
	}
	return r, nil
}

// Schema returns a named schema of the document.
func (d *Discovery) Schema(name string) (*Schema, error) {
	if _, ok := d.schemas[name]; !ok {
		return nil, fmt.Errorf("specschema: %s has no schema %q", d.Name, name)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ref(name, ""), nil
}

type discSchema struct {
	Ref                  string                     `json:"$ref"`
	Type                 string                     `json:"type"`
	Format               string                     `json:"format"`
	Properties           map[string]json.RawMessage `json:"properties"`
	Items                json.RawMessage            `json:"items"`
	AdditionalProperties json.RawMessage            `json:"additionalProperties"`
	Enum                 []string                   `json:"enum"`
	Annotations          struct {
		Required []string `json:"required"`
	} `json:"annotations"`
}

// ref builds (once per method, since "required" depends on it) a named schema; callers
// hold mu. Discovery marks a property required only for the methods its
// annotations.required lists, so the same schema is built per method id.
func (d *Discovery) ref(name, method string) *Schema {
	key := name + "\x00" + method
	if s, ok := d.built[key]; ok {
		return s
	}
	s := &Schema{Name: name}
	d.built[key] = s
	raw, ok := d.schemas[name]
	if !ok {
		s.Kind = KindAny
		return s
	}
	*s = *d.build(raw, name, method)
	return s
}

func (d *Discovery) build(raw json.RawMessage, name, method string) *Schema {
	var n discSchema
	if err := json.Unmarshal(raw, &n); err != nil {
		return &Schema{Name: "unparsable", Kind: KindAny}
	}
	if n.Ref != "" {
		return d.ref(n.Ref, method)
	}
	// Google's JSON omits absent fields rather than sending null; a null is still read
	// as "absent" by its clients, so null is allowed everywhere.
	s := &Schema{Name: name, Nullable: true}
	switch n.Type {
	case "object":
		s.Kind = KindObject
		s.Props = map[string]*Schema{}
		for k, v := range n.Properties {
			s.Props[k] = d.build(v, name+"."+k, method)
		}
		var req struct {
			Annotations struct {
				Required []string `json:"required"`
			} `json:"annotations"`
		}
		for k, v := range n.Properties {
			_ = json.Unmarshal(v, &req)
			if method != "" && contains(req.Annotations.Required, method) {
				s.Required = append(s.Required, k)
			}
			req.Annotations.Required = nil
		}
		if len(n.AdditionalProperties) > 0 {
			s.Values = d.build(n.AdditionalProperties, name+"[*]", method)
		}
	case "array":
		s.Kind = KindArray
		s.Items = &Schema{Name: "any", Kind: KindAny}
		if len(n.Items) > 0 {
			s.Items = d.build(n.Items, name+"[]", method)
		}
	case "string":
		s.Kind = KindString
		s.Enum = n.Enum
		// Discovery's 64-bit integers are JSON strings ("type": "string", "format": "int64").
		s.NumericString = n.Format == "int64" || n.Format == "uint64"
		switch n.Format {
		case "date-time", "google-datetime":
			s.Format = "date-time"
		case "date":
			s.Format = "date"
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

// GoogleError is the error body Google APIs answer with (Google Cloud API design guide,
// "Errors", and the Drive API's "Resolve errors" page, whose v3 answers keep the legacy
// "errors" list): the discovery documents do not describe it.
func GoogleError() *Schema {
	str := &Schema{Name: "string", Kind: KindString}
	item := &Schema{Name: "error.errors[]", Kind: KindObject, Props: map[string]*Schema{
		"domain": str, "reason": str, "message": str, "location": str, "locationType": str, "extendedHelp": str, "sendReport": str,
	}}
	e := &Schema{Name: "error", Kind: KindObject, Required: []string{"code", "message"}, Props: map[string]*Schema{
		"code": {Name: "integer", Kind: KindInteger}, "message": str, "status": str,
		"errors":  {Name: "error.errors", Kind: KindArray, Items: item},
		"details": {Name: "error.details", Kind: KindArray, Items: &Schema{Name: "any", Kind: KindAny}},
	}}
	return &Schema{Name: "Google error response", Kind: KindObject, Props: map[string]*Schema{"error": e}, Required: []string{"error"}}
}

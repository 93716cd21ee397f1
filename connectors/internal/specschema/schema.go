// Package specschema holds labelgate's connectors and emulators to the providers' published API
// descriptions: the Microsoft Graph v1.0 CSDL, the Box OpenAPI document and the Google Drive v3
// and Drive Labels v2 discovery documents. It loads each description once per test binary,
// turns the parts it needs into one small schema model, records the JSON bodies that pass
// between a connector and its emulator, and checks each body against the schema of its route.
package specschema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Kind is a JSON value kind.
type Kind uint8

// JSON kinds a schema can demand. KindAny accepts every value.
const (
	KindAny Kind = iota
	KindObject
	KindArray
	KindString
	KindInteger
	KindNumber
	KindBoolean
)

func (k Kind) String() string {
	return [...]string{"any", "object", "array", "string", "integer", "number", "boolean"}[k]
}

// Schema is the common model the three description formats are turned into.
type Schema struct {
	Name     string // the description's name for it, e.g. microsoft.graph.driveItem, Webhook, File
	Kind     Kind
	Props    map[string]*Schema
	Required []string
	Items    *Schema // array elements
	// Values, when set, is the schema of every property of a map-like object
	// (OpenAPI additionalProperties, discovery additionalProperties).
	Values *Schema
	Open   bool // any further property is allowed (OData open types, additionalProperties: true)
	// ReportDynamic makes Validate report the extra properties of an open type as Dynamic
	// problems, for the caller to allow by name: an OData open type allows them, but a
	// property the resource's documentation never lists is just as suspect there.
	ReportDynamic bool
	Nullable      bool
	Enum          []string
	// AnyOf: the value must match one of these (OpenAPI oneOf/anyOf).
	AnyOf []*Schema
	// Numeric strings: the description encodes a number as a JSON string (discovery int64).
	NumericString bool
	// Format of a string: "date-time" (RFC 3339), "date" (YYYY-MM-DD) or "uuid"; others
	// are not checked.
	Format string
	// Derived resolves an "@odata.type" annotation to a type derived from this one.
	Derived func(typeName string) (*Schema, bool)
	// Annotation decides whether an instance annotation key (one starting with or containing
	// "@") is allowed; nil = none are.
	Annotation func(key string) bool
}

// Problem is one way a body departs from its schema.
type Problem struct {
	Pointer string // JSON pointer of the value, e.g. /value/0/isActive
	Schema  string // the schema the value was checked against
	Msg     string
	Dynamic bool // a dynamic property of an open type (see Schema.ReportDynamic)
}

func (p Problem) String() string {
	ptr := p.Pointer
	if ptr == "" {
		ptr = "/"
	}
	return fmt.Sprintf("property %s (schema %s): %s", ptr, p.Schema, p.Msg)
}

// Decode parses a JSON body keeping numbers exact.
func Decode(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// Validate checks v against s and returns every problem, in a stable order.
func Validate(v any, s *Schema) []Problem {
	var out []Problem
	validate(v, s, "", &out, 0)
	return out
}

const maxDepth = 64

func validate(v any, s *Schema, ptr string, out *[]Problem, depth int) {
	if s == nil || depth > maxDepth {
		return
	}
	add := func(format string, args ...any) {
		*out = append(*out, Problem{Pointer: ptr, Schema: s.Name, Msg: fmt.Sprintf(format, args...)})
	}
	if v == nil {
		if !s.Nullable && s.Kind != KindAny {
			add("null, the description does not allow null")
		}
		return
	}
	if len(s.AnyOf) > 0 {
		var best []Problem
		for i, alt := range discriminate(v, s.AnyOf) {
			var p []Problem
			validate(v, alt, ptr, &p, depth+1)
			if len(p) == 0 {
				return
			}
			if i == 0 || len(p) < len(best) {
				best = p
			}
		}
		*out = append(*out, best...)
		return
	}
	switch s.Kind {
	case KindAny:
		return
	case KindObject:
		m, ok := v.(map[string]any)
		if !ok {
			add("JSON %s, the description says object", jsonKind(v))
			return
		}
		if t, ok := m["@odata.type"].(string); ok && s.Derived != nil {
			if d, ok := s.Derived(t); ok && d != s {
				validate(v, d, ptr, out, depth+1)
				return
			} else if !ok {
				add("@odata.type %q is not %s or a type derived from it", t, s.Name)
			}
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			sub := ptr + "/" + escapePointer(k)
			if p, ok := s.Props[k]; ok {
				validate(m[k], p, sub, out, depth+1)
				continue
			}
			if strings.Contains(k, "@") {
				if s.Annotation == nil || !s.Annotation(k) {
					*out = append(*out, Problem{Pointer: sub, Schema: s.Name, Msg: "instance annotation the description and the allowed list do not have"})
				}
				continue
			}
			if s.Values != nil {
				validate(m[k], s.Values, sub, out, depth+1)
				continue
			}
			switch {
			case !s.Open:
				*out = append(*out, Problem{Pointer: sub, Schema: s.Name, Msg: "property the description does not have"})
			case s.ReportDynamic:
				*out = append(*out, Problem{Pointer: sub, Schema: s.Name, Msg: "dynamic property of an open type, not declared by the description", Dynamic: true})
			}
		}
		for _, r := range s.Required {
			if _, defined := s.Props[r]; !defined && !s.Open && s.Values == nil {
				// A closed schema that requires a property it never defines is an error in
				// the description (Box's shared link requires "accessed" and defines no such
				// property): no body could satisfy it, so it is not held against one.
				continue
			}
			if _, ok := m[r]; !ok {
				*out = append(*out, Problem{Pointer: ptr + "/" + escapePointer(r), Schema: s.Name, Msg: "required property missing"})
			}
		}
	case KindArray:
		a, ok := v.([]any)
		if !ok {
			add("JSON %s, the description says array", jsonKind(v))
			return
		}
		for i, e := range a {
			validate(e, s.Items, ptr+"/"+strconv.Itoa(i), out, depth+1)
		}
	case KindString:
		str, ok := v.(string)
		if !ok {
			add("JSON %s, the description says string", jsonKind(v))
			return
		}
		if len(s.Enum) > 0 && !contains(s.Enum, str) {
			add("%q is not one of the described values %v", str, s.Enum)
		}
		if msg := checkFormat(s.Format, str); msg != "" {
			add("%q is not %s", str, msg)
		}
		if s.NumericString {
			if _, err := strconv.ParseFloat(str, 64); err != nil {
				add("%q is not the numeric string the description says", str)
			}
		}
	case KindInteger:
		n, ok := v.(json.Number)
		if !ok {
			add("JSON %s, the description says integer", jsonKind(v))
			return
		}
		if _, err := n.Int64(); err != nil {
			add("%s is not an integer", n)
		}
	case KindNumber:
		if _, ok := v.(json.Number); !ok {
			add("JSON %s, the description says number", jsonKind(v))
		}
	case KindBoolean:
		if _, ok := v.(bool); !ok {
			add("JSON %s, the description says boolean", jsonKind(v))
		}
	}
}

func jsonKind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

func escapePointer(k string) string {
	return strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// discriminate narrows alternatives by an object's "type" (Box's discriminator: file, folder,
// web_link, event, ...) to those whose own "type" allows it, so a mismatch is reported
// against the alternative the body claims to be rather than whichever fails least.
func discriminate(v any, alts []*Schema) []*Schema {
	m, ok := v.(map[string]any)
	if !ok {
		return alts
	}
	t, ok := m["type"].(string)
	if !ok {
		return alts
	}
	var out []*Schema
	for _, a := range alts {
		if ts := a.Props["type"]; ts != nil && len(ts.Enum) > 0 && contains(ts.Enum, t) {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return alts
	}
	return out
}

var uuidRE = regexp.MustCompile(`^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$`)

// checkFormat returns what a string fails to be, or "".
func checkFormat(format, v string) string {
	switch format {
	case "date-time":
		if _, err := time.Parse(time.RFC3339Nano, v); err != nil {
			return "an RFC 3339 date-time"
		}
	case "date":
		if _, err := time.Parse(time.DateOnly, v); err != nil {
			return "a date (YYYY-MM-DD)"
		}
	case "uuid":
		if !uuidRE.MatchString(v) {
			return "a UUID"
		}
	}
	return ""
}

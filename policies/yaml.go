package policies

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// FieldError is one problem in a policy document, naming the policy and the field path
// (e.g. `filter.all[1].label.is[0]`).
type FieldError struct {
	Policy string // policy id, or "policies[i]" when it has none
	Field  string
	Msg    string
}

func (e *FieldError) Error() string {
	switch {
	case e.Policy != "" && e.Field != "":
		return fmt.Sprintf("policy %s: %s: %s", e.Policy, e.Field, e.Msg)
	case e.Policy != "":
		return fmt.Sprintf("policy %s: %s", e.Policy, e.Msg)
	case e.Field != "":
		return fmt.Sprintf("%s: %s", e.Field, e.Msg)
	}
	return e.Msg
}

// ErrInvalid is wrapped by every validation failure, so callers can tell a bad document
// from a storage failure.
var ErrInvalid = errors.New("invalid policy document")

// Errors is every problem found in a document.
type Errors []*FieldError

func (es Errors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Unwrap lets errors.Is(err, ErrInvalid) hold.
func (es Errors) Unwrap() error { return ErrInvalid }

// Parse reads a YAML (or JSON) policy document strictly: unknown fields are errors naming
// the policy and field. It does not validate meaning; see Validate.
func Parse(data []byte) (Document, error) {
	var doc Document
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return doc, Errors{{Msg: "empty document: list policies under `policies:`"}}
		}
		return doc, Errors{{Msg: "not YAML: " + err.Error()}}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return doc, Errors{{Msg: "more than one YAML document: list every policy under one `policies:` key"}}
	}
	// Decoding into a yaml.Node keeps aliases as references, so the parse above cost what the
	// text did; walking or decoding follows them, so it is weighed first.
	if err := aliasBudget(&root); err != nil {
		return doc, Errors{{Msg: err.Error()}}
	}
	if len(root.Content) != 1 || root.Content[0].Kind != yaml.MappingNode {
		return doc, Errors{{Msg: "a policy document is a mapping with a `policies:` list"}}
	}
	top := root.Content[0]
	single := mapValue(top, "policies") == nil && mapValue(top, "id") != nil
	var errs Errors
	if single {
		walkStrict(top, reflect.TypeFor[Policy](), policyName(top, 0), "", &errs)
	} else {
		walkStrict(top, reflect.TypeFor[Document](), "", "", &errs)
	}
	if len(errs) > 0 {
		return doc, errs
	}
	var err error
	if single {
		var p Policy
		err = top.Decode(&p)
		doc.Policies = []Policy{p}
	} else {
		err = top.Decode(&doc)
	}
	if err != nil {
		return doc, Errors{{Msg: err.Error()}}
	}
	return doc, nil
}

// Budgets of a policy document, aliases expanded. A real document has a few hundred nodes
// and a handful of aliases (a shared filter); a "billion laughs" document of a few hundred
// bytes expands to millions (issue 22: 588 bytes cost 9 s, 522 bytes 1 GB).
const (
	maxYAMLNodes   = 100_000 // nodes once every alias is expanded
	maxYAMLAliases = 1_000   // alias nodes
)

// aliasBudget refuses a document whose alias-expanded size exceeds the budgets, or whose
// aliases refer to a node containing them, by sizing each node once (memoised), so the check
// itself costs what the text does.
func aliasBudget(root *yaml.Node) error {
	const inProgress = -1
	size := map[*yaml.Node]int{}
	aliases := 0
	var weigh func(n *yaml.Node) (int, error)
	weigh = func(n *yaml.Node) (int, error) {
		if n == nil {
			return 0, nil
		}
		if v, ok := size[n]; ok {
			if v == inProgress {
				return 0, errors.New("policy document refused: an alias refers to a node that contains it")
			}
			return v, nil
		}
		size[n] = inProgress
		total := 1
		if n.Kind == yaml.AliasNode {
			if aliases++; aliases > maxYAMLAliases {
				return 0, fmt.Errorf("policy document refused: more than %d aliases", maxYAMLAliases)
			}
			v, err := weigh(n.Alias)
			if err != nil {
				return 0, err
			}
			total += v
		}
		for _, c := range n.Content {
			v, err := weigh(c)
			if err != nil {
				return 0, err
			}
			if total += v; total > maxYAMLNodes {
				return 0, fmt.Errorf("policy document refused: more than %d nodes once aliases are expanded (excessive aliasing)", maxYAMLNodes)
			}
		}
		if total > maxYAMLNodes {
			return 0, fmt.Errorf("policy document refused: more than %d nodes once aliases are expanded (excessive aliasing)", maxYAMLNodes)
		}
		size[n] = total
		return total, nil
	}
	_, err := weigh(root)
	return err
}

func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func policyName(n *yaml.Node, i int) string {
	if v := mapValue(n, "id"); v != nil && v.Kind == yaml.ScalarNode && v.Value != "" {
		return v.Value
	}
	return fmt.Sprintf("policies[%d]", i)
}

// walkStrict checks n against the Go type t: unknown keys and wrong shapes become errors with
// the field path, before decoding, so messages can name the policy.
func walkStrict(n *yaml.Node, t reflect.Type, pol, path string, errs *Errors) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	add := func(field, msg string) { *errs = append(*errs, &FieldError{Policy: pol, Field: field, Msg: msg}) }
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			add(path, fmt.Sprintf("line %d: expected a mapping", n.Line))
			return
		}
		noun := "field"
		switch t {
		case reflect.TypeFor[Node]():
			noun = "condition kind"
		case reflect.TypeFor[Action]():
			noun = "action kind"
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			f, ok := fieldByTag(t, key)
			if !ok {
				add(joinPath(path, key), fmt.Sprintf("line %d: unknown %s %q", n.Content[i].Line, noun, key))
				continue
			}
			child := joinPath(path, key)
			if t == reflect.TypeFor[Document]() && key == "policies" {
				seq := n.Content[i+1]
				if seq.Kind != yaml.SequenceNode {
					add("policies", "expected a list of policies")
					continue
				}
				for j, item := range seq.Content {
					walkStrict(item, reflect.TypeFor[Policy](), policyName(item, j), "", errs)
				}
				continue
			}
			walkStrict(n.Content[i+1], f.Type, pol, child, errs)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			add(path, fmt.Sprintf("line %d: expected a list", n.Line))
			return
		}
		for j, item := range n.Content {
			walkStrict(item, t.Elem(), pol, fmt.Sprintf("%s[%d]", path, j), errs)
		}
	default:
		if n.Kind != yaml.ScalarNode {
			add(path, fmt.Sprintf("line %d: expected a single value", n.Line))
		}
	}
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func fieldByTag(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// MarshalYAML writes a document in the form Parse reads.
func MarshalYAML(doc Document) ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// encodeDoc is the stored form of one policy (store.Policy.Doc): JSON, which admin clients
// read directly and Parse also accepts.
func encodeDoc(p Policy) ([]byte, error) { return json.Marshal(p) }

// decodeDoc reads a stored policy.
func decodeDoc(b []byte) (Policy, error) {
	doc, err := Parse(b)
	if err != nil {
		return Policy{}, err
	}
	if len(doc.Policies) != 1 {
		return Policy{}, fmt.Errorf("stored policy holds %d policies", len(doc.Policies))
	}
	return doc.Policies[0], nil
}

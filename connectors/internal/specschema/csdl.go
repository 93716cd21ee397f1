package specschema

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
)

// CSDL is a parsed OData CSDL document (the Graph v1.0 metadata): its structured types, enum
// types, bound operations and entity container, with schemas built on demand.
type CSDL struct {
	aliases map[string]string // alias → namespace
	types   map[string]*csdlType
	enums   map[string][]string
	ops     map[string][]*csdlOp // by short name
	sets    map[string]string    // entity set → entity type
	single  map[string]string    // singleton → type

	mu      sync.Mutex
	schemas map[string]*Schema
	// Annotation is the instance-annotation rule given to every structured type's schema.
	annotation func(string) bool
}

type csdlProp struct {
	name, typ string
	nullable  bool
	nav       bool
}

type csdlType struct {
	name     string // qualified
	base     string // qualified, "" at the root
	entity   bool
	open     bool
	abstract bool
	props    []csdlProp
}

type csdlParam struct {
	name, typ string
	nullable  bool
}

type csdlOp struct {
	name     string
	action   bool
	params   []csdlParam // params[0] is the binding parameter
	returns  string      // "" = none
	bindColl bool
	bindType string
}

// LoadCSDL parses a CSDL XML file. annotation decides which instance annotations (keys with
// "@") bodies may carry; it is the provider's allowance and must cite its source.
func LoadCSDL(path string, annotation func(string) bool) (*CSDL, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("specschema: csdl: %w", err)
	}
	defer f.Close()
	c, err := parseCSDL(f)
	if err != nil {
		return nil, fmt.Errorf("specschema: csdl %s: %w", path, err)
	}
	c.annotation = annotation
	return c, nil
}

func attr(se xml.StartElement, name string) string {
	for _, a := range se.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func parseCSDL(r io.Reader) (*CSDL, error) {
	c := &CSDL{
		aliases: map[string]string{}, types: map[string]*csdlType{}, enums: map[string][]string{},
		ops: map[string][]*csdlOp{}, sets: map[string]string{}, single: map[string]string{},
		schemas: map[string]*Schema{},
	}
	dec := xml.NewDecoder(r)
	var (
		ns      string
		curType *csdlType
		curEnum string
		curOp   *csdlOp
		inCont  bool
	)
	for {
		tok, err := dec.RawToken()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "Schema":
				ns = attr(t, "Namespace")
				if a := attr(t, "Alias"); a != "" {
					c.aliases[a] = ns
				}
			case "EntityType", "ComplexType":
				curType = &csdlType{name: ns + "." + attr(t, "Name"), base: attr(t, "BaseType"),
					entity: t.Name.Local == "EntityType", open: attr(t, "OpenType") == "true", abstract: attr(t, "Abstract") == "true"}
				c.types[curType.name] = curType
			case "Property", "NavigationProperty":
				if curType != nil {
					curType.props = append(curType.props, csdlProp{name: attr(t, "Name"), typ: attr(t, "Type"),
						nullable: attr(t, "Nullable") != "false", nav: t.Name.Local == "NavigationProperty"})
				}
			case "EnumType":
				curEnum = ns + "." + attr(t, "Name")
				c.enums[curEnum] = []string{}
			case "Member":
				if curEnum != "" {
					c.enums[curEnum] = append(c.enums[curEnum], attr(t, "Name"))
				}
			case "Action", "Function":
				if attr(t, "IsBound") == "true" {
					curOp = &csdlOp{name: attr(t, "Name"), action: t.Name.Local == "Action"}
					c.ops[curOp.name] = append(c.ops[curOp.name], curOp)
				}
			case "Parameter":
				if curOp != nil {
					curOp.params = append(curOp.params, csdlParam{name: attr(t, "Name"), typ: attr(t, "Type"), nullable: attr(t, "Nullable") != "false"})
				}
			case "ReturnType":
				if curOp != nil {
					curOp.returns = attr(t, "Type")
				}
			case "EntityContainer":
				inCont = true
			case "EntitySet":
				if inCont {
					c.sets[attr(t, "Name")] = attr(t, "EntityType")
				}
			case "Singleton":
				if inCont {
					c.single[attr(t, "Name")] = attr(t, "Type")
				}
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "EntityType", "ComplexType":
				curType = nil
			case "EnumType":
				curEnum = ""
			case "Action", "Function":
				curOp = nil
			case "EntityContainer":
				inCont = false
			}
		}
	}
	// Qualify every type reference now that all aliases are known.
	for _, t := range c.types {
		t.base = c.qualify(t.base)
		for i := range t.props {
			t.props[i].typ = c.qualifyType(t.props[i].typ)
		}
	}
	for _, list := range c.ops {
		for _, op := range list {
			for i := range op.params {
				op.params[i].typ = c.qualifyType(op.params[i].typ)
			}
			op.returns = c.qualifyType(op.returns)
			if len(op.params) > 0 {
				op.bindType, op.bindColl = elemType(op.params[0].typ)
			}
		}
	}
	for k, v := range c.sets {
		c.sets[k] = c.qualify(v)
	}
	for k, v := range c.single {
		c.single[k] = c.qualify(v)
	}
	if len(c.types) == 0 {
		return nil, errors.New("no structured types")
	}
	return c, nil
}

// elemType splits "Collection(T)" into T, true.
func elemType(t string) (string, bool) {
	if in, ok := strings.CutPrefix(t, "Collection("); ok {
		return strings.TrimSuffix(in, ")"), true
	}
	return t, false
}

func (c *CSDL) qualifyType(t string) string {
	if in, coll := elemType(t); coll {
		return "Collection(" + c.qualify(in) + ")"
	}
	return c.qualify(t)
}

func (c *CSDL) qualify(name string) string {
	if name == "" || strings.HasPrefix(name, "Edm.") {
		return name
	}
	name = strings.TrimPrefix(name, "#")
	if i := strings.IndexByte(name, '.'); i > 0 {
		if ns, ok := c.aliases[name[:i]]; ok {
			return ns + name[i:]
		}
	}
	return name
}

// derivesFrom reports whether type t is base or derives from it.
func (c *CSDL) derivesFrom(t, base string) bool {
	for n := 0; t != "" && n < 64; n++ {
		if t == base {
			return true
		}
		ct := c.types[t]
		if ct == nil {
			return false
		}
		t = ct.base
	}
	return false
}

// findProp looks a property up along the base-type chain.
func (c *CSDL) findProp(t, name string) (csdlProp, bool) {
	for n := 0; t != "" && n < 64; n++ {
		ct := c.types[t]
		if ct == nil {
			break
		}
		for _, p := range ct.props {
			if p.name == name {
				return p, true
			}
		}
		t = ct.base
	}
	return csdlProp{}, false
}

// findOp finds the bound operation name applying to (t, coll), the most derived binding first.
func (c *CSDL) findOp(name, t string, coll bool) *csdlOp {
	name = strings.TrimPrefix(name, "microsoft.graph.")
	for n := 0; t != "" && n < 64; n++ {
		for _, op := range c.ops[name] {
			if op.bindType == t && op.bindColl == coll {
				return op
			}
		}
		ct := c.types[t]
		if ct == nil {
			break
		}
		t = ct.base
	}
	return nil
}

// Type returns the schema of a qualified (or alias-qualified) type name, e.g.
// "microsoft.graph.driveItem" or "Collection(graph.permission)".
func (c *CSDL) Type(name string) (*Schema, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.schemaLocked(c.qualifyType(name), true)
	if s == nil {
		return nil, fmt.Errorf("specschema: csdl has no type %q", name)
	}
	return s, nil
}

var numericSpecials = &Schema{Name: "Edm.Double special value", Kind: KindString, Enum: []string{"NaN", "INF", "-INF"}}

// schemaLocked builds (once) the schema of a qualified type name; callers hold mu.
func (c *CSDL) schemaLocked(t string, nullable bool) *Schema {
	if in, coll := elemType(t); coll {
		items := c.schemaLocked(in, false)
		if items == nil {
			return nil
		}
		return &Schema{Name: t, Kind: KindArray, Items: items, Nullable: nullable}
	}
	key := t
	if !nullable {
		key += "!"
	}
	if s, ok := c.schemas[key]; ok {
		return s
	}
	var s *Schema
	switch t {
	case "Edm.String", "Edm.TimeOfDay", "Edm.Duration", "Edm.Binary":
		s = &Schema{Name: t, Kind: KindString}
	case "Edm.Guid":
		s = &Schema{Name: t, Kind: KindString, Format: "uuid"}
	case "Edm.DateTimeOffset":
		s = &Schema{Name: t, Kind: KindString, Format: "date-time"}
	case "Edm.Date":
		s = &Schema{Name: t, Kind: KindString, Format: "date"}
	case "Edm.Boolean":
		s = &Schema{Name: t, Kind: KindBoolean}
	case "Edm.Int16", "Edm.Int32", "Edm.Int64", "Edm.Byte", "Edm.SByte":
		s = &Schema{Name: t, Kind: KindInteger}
	case "Edm.Double", "Edm.Single", "Edm.Decimal":
		// OData JSON Format 4.01 §7.1: Double and Single may also be the strings NaN, INF, -INF.
		s = &Schema{Name: t, AnyOf: []*Schema{{Name: t, Kind: KindNumber}, numericSpecials}}
	case "Edm.Stream", "Edm.Untyped", "Edm.PrimitiveType":
		s = &Schema{Name: t, Kind: KindAny}
	}
	if s == nil {
		if members, ok := c.enums[t]; ok {
			s = &Schema{Name: t, Kind: KindString, Enum: members}
			// Flag enums (IsFlags) are comma-separated member lists; Graph's driveItem-related
			// enums are not flags, so exact membership is checked.
		}
	}
	if s == nil {
		ct := c.types[t]
		if ct == nil {
			return nil
		}
		s = &Schema{Name: t, Kind: KindObject, Props: map[string]*Schema{}}
		c.schemas[key] = s
		var chain []*csdlType
		for x, n := ct, 0; x != nil && n < 64; x, n = c.types[x.base], n+1 {
			chain = append(chain, x)
			// OData CSDL 4.01 §6.3: an open type (OpenType="true") may carry dynamic
			// properties beyond its declared ones. Graph marks identity open because
			// SharePoint adds "email" to the user of an identitySet; driveItem is open too,
			// so extras are reported as Dynamic problems for the caller to allow by name.
			s.Open = s.Open || x.open
		}
		s.ReportDynamic = s.Open
		for i := len(chain) - 1; i >= 0; i-- {
			for _, p := range chain[i].props {
				if ps := c.schemaLocked(p.typ, p.nullable); ps != nil {
					s.Props[p.name] = ps
				} else {
					s.Props[p.name] = &Schema{Name: p.typ, Kind: KindAny}
				}
			}
		}
		base := t
		s.Derived = func(name string) (*Schema, bool) {
			q := c.qualify(name)
			if !c.derivesFrom(q, base) {
				return nil, false
			}
			c.mu.Lock()
			defer c.mu.Unlock()
			d := c.schemaLocked(q, nullable)
			return d, d != nil
		}
		s.Annotation = c.annotation
	}
	s.Nullable = nullable
	c.schemas[key] = s
	return s
}

// extend adds a property the description lacks to a structured type, for the few documented
// allowances (each call cites its source).
func (c *CSDL) extend(typeName, prop, propType string) {
	t := c.types[c.qualify(typeName)]
	if t == nil {
		return
	}
	t.props = append(t.props, csdlProp{name: prop, typ: c.qualifyType(propType), nullable: true})
}

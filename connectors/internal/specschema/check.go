package specschema

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Finding is one departure of a recorded body from the provider's description.
type Finding struct {
	Provider  string
	Direction string // request, response, notification
	Method    string
	Path      string // the first request path that showed it
	Route     string // the emulator route (its ServeMux pattern), when known
	Status    int
	Resource  string // what the description says the route is
	Problem   Problem
}

func (f Finding) String() string {
	route := ""
	if f.Route != "" {
		route = " [route " + f.Route + "]"
	}
	status := ""
	if f.Status != 0 {
		status = fmt.Sprintf(" %d", f.Status)
	}
	return fmt.Sprintf("%s %s%s %s %s%s (%s): %s", f.Provider, f.Direction, status, f.Method, f.Path, route, f.Resource, f.Problem)
}

// Expect is what a description says about one recorded body: its schema and the name of the
// resource or operation for messages. A nil Schema with a nil Err means "no JSON body is
// described here" and a body there is itself a finding.
type Expect struct {
	Resource string
	Schema   *Schema
	Err      error // the route is not in the description
	Skip     string
	// Extract, when set, takes the JSON to check out of a body that is not JSON itself
	// (the attributes part of a multipart upload).
	Extract func(body []byte, contentType string) ([]byte, error)
	// AllowDynamic lists the dynamic properties of open types that are allowed, as
	// "schema/property" (e.g. "microsoft.graph.identity/email"); each needs a cited source.
	AllowDynamic map[string]bool
}

// Mapper tells the checker what a body of an exchange must look like. dir is "request",
// "response" or "notification".
type Mapper func(e Exchange, dir string) Expect

var indexSeg = regexp.MustCompile(`/[0-9]+(/|$)`)

// Check validates every recorded JSON body — the requests connectors sent (SideConnector),
// the responses emulators wrote (SideEmulator) and the notifications emulators POSTed
// (SideNotification) — and returns the findings, one per distinct route, property and
// problem, in a stable order.
func Check(provider string, exchanges []Exchange, m Mapper) (findings []Finding, checked int) {
	seen := map[string]bool{}
	for _, e := range exchanges {
		var dir string
		var body []byte
		var ct string
		switch e.Side {
		case SideConnector:
			dir, body, ct = "request", e.ReqBody, e.ReqType
		case SideEmulator:
			dir, body, ct = "response", e.RespBody, e.RespType
		case SideNotification:
			dir, body, ct = "notification", e.ReqBody, e.ReqType
		}
		if len(body) == 0 {
			continue
		}
		x := m(e, dir)
		if x.Skip != "" {
			continue
		}
		if x.Extract != nil {
			b, err := x.Extract(body, ct)
			if err != nil {
				x.Err = err
			}
			body = b
		} else if !IsJSON(ct) {
			continue
		}
		route := e.Pattern
		if route == "" {
			route = e.Method + " " + e.Path
		}
		emit := func(p Problem) {
			p.Pointer = indexSeg.ReplaceAllString(p.Pointer, "/*$1")
			key := strings.Join([]string{dir, route, fmt.Sprint(e.Status), p.Pointer, p.Schema, p.Msg}, "\x00")
			if seen[key] {
				return
			}
			seen[key] = true
			findings = append(findings, Finding{Provider: provider, Direction: dir, Method: e.Method, Path: e.Path,
				Route: e.Pattern, Status: statusFor(e, dir), Resource: x.Resource, Problem: p})
		}
		checked++
		switch {
		case x.Err != nil:
			emit(Problem{Schema: "-", Msg: "route or status the description does not have: " + x.Err.Error()})
			continue
		case x.Schema == nil:
			emit(Problem{Schema: "-", Msg: "a JSON body where the description defines none"})
			continue
		}
		v, err := Decode(body)
		if err != nil {
			emit(Problem{Schema: x.Schema.Name, Msg: "body is not JSON: " + err.Error()})
			continue
		}
		// Messages carry values (enum misses); strip them from the dedup key only through
		// the pointer, so each distinct problem shows once per route.
		for _, p := range Validate(v, x.Schema) {
			if p.Dynamic && x.AllowDynamic[p.Schema+"/"+p.Pointer[strings.LastIndexByte(p.Pointer, '/')+1:]] {
				continue
			}
			emit(p)
		}
	}
	sort.SliceStable(findings, func(i, j int) bool { return findings[i].String() < findings[j].String() })
	return findings, checked
}

func statusFor(e Exchange, dir string) int {
	if dir == "response" {
		return e.Status
	}
	return 0
}

// Coverage compares the routes an emulator registers with the patterns its recorded
// exchanges were served by and returns the ones never exercised, sorted.
func Coverage(routes []string, exchanges []Exchange) (exercised map[string]int, missing []string) {
	exercised = map[string]int{}
	for _, e := range exchanges {
		if e.Side == SideEmulator && e.Pattern != "" {
			exercised[e.Pattern]++
		}
	}
	for _, r := range routes {
		if exercised[r] == 0 {
			missing = append(missing, r)
		}
	}
	sort.Strings(missing)
	return exercised, missing
}

package specschema

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
)

var patternLit = regexp.MustCompile(`^((GET|HEAD|POST|PUT|PATCH|DELETE) )?/`)

// RoutePatterns reads an emulator package's source and returns the ServeMux patterns its
// function funcName registers: every string literal that is the first argument of a call in
// that function's body and looks like a pattern ("GET /2.0/files/{id}", "/v1.0/"). Reading
// the source keeps the list in step with the emulator without a second, hand-kept list.
func RoutePatterns(dir, funcName string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	var out []string
	found := false
	for _, name := range files {
		if m, _ := filepath.Match("*_test.go", filepath.Base(name)); m {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, fmt.Errorf("specschema: %w", err)
		}
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Name.Name != funcName || fd.Body == nil {
				continue
			}
			found = true
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok || len(call.Args) == 0 {
					return true
				}
				lit, ok := call.Args[0].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					return true
				}
				if s, err := strconv.Unquote(lit.Value); err == nil && patternLit.MatchString(s) {
					out = append(out, s)
				}
				return true
			})
		}
	}
	if !found {
		return nil, fmt.Errorf("specschema: no func %s in %s", funcName, dir)
	}
	sort.Strings(out)
	return out, nil
}

package specschema

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
)

// RepoRoot walks up from the working directory to the directory holding go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", errors.New("specschema: no go.mod above the working directory")
		}
		dir = up
	}
}

// SpecsDir is ../shared/specs beside the repository, where the published descriptions live
// (never copied into the repository).
func SpecsDir() (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(root, "..", "shared", "specs")
	if _, err := os.Stat(dir); err != nil {
		return "", fmt.Errorf("specschema: the providers' descriptions: %w", err)
	}
	return dir, nil
}

// googleAPIDir asks the go command where the google.golang.org/api version that go.mod
// requires lives in the module cache; its discovery documents ship beside the generated code.
var googleAPIDir = sync.OnceValues(func() (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	cmd := exec.Command("go", "list", "-m", "-json", "google.golang.org/api")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("specschema: go list -m google.golang.org/api: %w", err)
	}
	var m struct{ Dir, Version string }
	if err := json.Unmarshal(out, &m); err != nil {
		return "", fmt.Errorf("specschema: go list output: %w", err)
	}
	if m.Dir == "" {
		return "", fmt.Errorf("specschema: google.golang.org/api %s is not in the module cache (go mod download)", m.Version)
	}
	return m.Dir, nil
})

// GoogleAPIDir is the module-cache directory of the google.golang.org/api version in go.mod.
func GoogleAPIDir() (string, error) { return googleAPIDir() }

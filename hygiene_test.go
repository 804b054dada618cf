// Package ctrunner_test holds checks on the source tree as a whole.
package ctrunner_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// allowed lists, for each package of the module, the module packages it may
// import. The layers run snapshot ← legacy, feed, store, export, diff ←
// cmd; nothing imports a command.
var allowed = map[string][]string{
	"snapshot":      {},
	"durable":       {},
	"legacy":        {"snapshot"},
	"feed":          {"snapshot"},
	"feed/feedtest": {"snapshot", "legacy", "feed"},
	"store":         {"snapshot"},
	"export":        {"snapshot"},
	"export/sqlite": {"snapshot", "export"},
	"chart":         {"snapshot", "export"},
	"diff":          {"snapshot", "export"},
	"rehearsal":     {"snapshot"},
	"suspect":       {"snapshot"},
	"polls":         {"snapshot"},
	"watch":         {"snapshot", "feed", "store", "suspect", "polls"},
	"publish":       {"snapshot", "legacy", "export", "durable"},
	"replay":        {"snapshot", "store"},
	"night":         {"snapshot", "store", "diff"},
	"cmd/ctrunner":  {"*"},
	"cmd/fakect":    {"feed/feedtest", "legacy", "snapshot"},
}

// TestLayering fails when a package imports a module package above it, or
// when a new package is added without a place in the layers.
func TestLayering(t *testing.T) {
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != "." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || filepath.Dir(path) == "." {
			return nil
		}
		pkg := filepath.ToSlash(filepath.Dir(path))
		rules, ok := allowed[pkg]
		if !ok {
			t.Errorf("package %s has no place in the layering table of hygiene_test.go", pkg)
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			target, inModule := strings.CutPrefix(strings.Trim(imp.Path.Value, `"`), "ctrunner/")
			if !inModule || target == pkg || permits(rules, target) {
				continue
			}
			if strings.HasSuffix(path, "_test.go") && (strings.HasSuffix(target, "test") ||
				target == "legacy" || target == "rehearsal") {
				continue // tests may read recorded data, simulate nights, use the fake API
			}
			t.Errorf("%s imports ctrunner/%s, which is not below %s", path, target, pkg)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func permits(rules []string, target string) bool {
	for _, r := range rules {
		if r == "*" || r == target {
			return true
		}
	}
	return false
}

// Package layering checks the import rules the package comments state, so
// that a newcomer's reading of the tree stays true: the domain core imports
// nothing of ours, back ends import only their contract, the transports
// and the back ends meet only in cmd/ (the wiring), and test fixtures stay
// out of the binary.
package layering

import (
	"go/build"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/feastgo/feastgo/"

// pkg is one of our packages and the packages of ours it imports.
type pkg struct {
	path        string // relative to the module: "onlinestore/redis"
	imports     []string
	testImports []string
}

func loadPackages(t *testing.T) map[string]*pkg {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*pkg{}
	err = filepath.WalkDir(root, func(dir string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if dir != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules") {
			return filepath.SkipDir
		}
		bp, err := build.ImportDir(dir, 0)
		if err != nil {
			return nil // no Go files here
		}
		rel, _ := filepath.Rel(root, dir)
		p := &pkg{path: filepath.ToSlash(rel)}
		ours := func(list []string) []string {
			var o []string
			for _, imp := range list {
				if strings.HasPrefix(imp, module) {
					o = append(o, strings.TrimPrefix(imp, module))
				}
			}
			return o
		}
		p.imports = ours(bp.Imports)
		p.testImports = ours(append(append([]string{}, bp.TestImports...), bp.XTestImports...))
		out[p.path] = p
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 20 {
		t.Fatalf("found only %d packages: is the walk rooted at the module?", len(out))
	}
	return out
}

func under(path string, prefixes ...string) bool {
	for _, p := range prefixes {
		if path == p || strings.HasPrefix(path, p+"/") {
			return true
		}
	}
	return false
}

// backEnd reports a store implementation: a package below onlinestore/ or
// offlinestore/ other than their shared test suites.
func backEnd(path string) bool {
	for _, parent := range []string{"onlinestore/", "offlinestore/"} {
		if rest, ok := strings.CutPrefix(path, parent); ok && !strings.Contains(rest, "/") && !testSupport(path) && !wiring(path) {
			return true
		}
	}
	return false
}

// testSupport packages are imported by tests only.
func testSupport(path string) bool {
	return under(path, "internal/bench", "internal/testrepo", "internal/testlog", "internal/testenv", "internal/testoidc", "internal/testkube", "onlinestore/storetest", "offlinestore/offlinetest")
}

// wiring packages may import back ends: the binary's main, and the
// catalogs that choose a back end by the configured type.
func wiring(path string) bool {
	return under(path, "cmd", "offlinestore/catalog", "bench")
}

func TestImportRules(t *testing.T) {
	pkgs := loadPackages(t)
	names := make([]string, 0, len(pkgs))
	for n := range pkgs {
		names = append(names, n)
	}
	sort.Strings(names)
	leaf := []string{"core", "version", "internal/pyfmt", "internal/pyconv", "protos"}
	for _, n := range names {
		p := pkgs[n]
		for _, imp := range p.imports {
			switch {
			case under(n, leaf...) && !under(imp, "internal/pyfmt", "internal/pyconv", "protos"):
				t.Errorf("%s is a leaf of the domain and imports %s", n, imp)
			case backEnd(n) && !under(imp, "core", "internal", "protos", "config", strings.SplitN(n, "/", 2)[0]):
				t.Errorf("back end %s imports %s: a back end imports only core, its contract and internal helpers", n, imp)
			case backEnd(imp) && !wiring(n):
				t.Errorf("%s imports the back end %s: only the wiring (cmd/) chooses back ends", n, imp)
			case testSupport(imp) && !testSupport(n):
				t.Errorf("%s imports the test fixture %s outside its tests", n, imp)
			case under(imp, "server") && !wiring(n) && !under(n, "server"): // server/offline is a transport too
				t.Errorf("%s imports the transport package server: only cmd/ and other transports may", n)
			case under(n, "client") && !under(imp, "protos", "client"):
				t.Errorf("the Go client %s imports %s: a service importing the client must not pull in the server", n, imp)
			case under(imp, "cmd"):
				t.Errorf("%s imports %s: nothing imports the binary", n, imp)
			}
		}
	}
	for _, n := range []string{"core", "client", "onlinestore", "onlinestore/redis", "server", "cmd/feature-server"} {
		if pkgs[n] == nil {
			t.Errorf("package %s not found: the rules above checked nothing for it", n)
		}
	}
}

package permissions

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/feastgo/feastgo/auth"
	corepb "github.com/feastgo/feastgo/protos/feast/core"
)

// The goldens are Feast 0.67's own enforce_policy decisions over a repo
// applied by the real `feast apply` (conformance/permissions_goldens.py;
// regenerate with UPDATE_GOLDEN=1 conformance/run.sh -k permissions_goldens).

type goldenDecision struct {
	Result string `json:"result"`
	Error  string `json:"error"`
}

type goldenDoc struct {
	Format  int    `json:"format"`
	Project string `json:"project"`
	Users   []struct {
		Name       string   `json:"name"`
		Roles      []string `json:"roles"`
		Groups     []string `json:"groups"`
		Namespaces []string `json:"namespaces"`
	} `json:"users"`
	Cells []struct {
		User     string `json:"user"`
		Resource struct {
			Type  string `json:"type"`
			Name  string `json:"name"`
			Class string `json:"class"`
		} `json:"resource"`
		Actions []string       `json:"actions"`
		Check   goldenDecision `json:"check"`
		Filter  goldenDecision `json:"filter"`
	} `json:"cells"`
	NoPermissions struct {
		Resource struct {
			Type string `json:"type"`
			Name string `json:"name"`
		} `json:"resource"`
		Cells []struct {
			User  string         `json:"user"`
			Check goldenDecision `json:"check"`
		} `json:"cells"`
	} `json:"no_permissions"`
}

func loadGolden(t testing.TB) (*goldenDoc, *corepb.Registry) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "decisions.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc goldenDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join("testdata", "repo", "data", "registry.db"))
	if err != nil {
		t.Fatal(err)
	}
	reg := &corepb.Registry{}
	if err := proto.Unmarshal(raw, reg); err != nil {
		t.Fatal(err)
	}
	return &doc, reg
}

func actionOf(t testing.TB, name string) Action {
	v, ok := corepb.PermissionSpec_AuthzedAction_value[name]
	if !ok {
		t.Fatalf("unknown action %q", name)
	}
	return 1 << v
}

func typeOf(t testing.TB, name string) Type {
	v, ok := corepb.PermissionSpec_Type_value[name]
	if !ok {
		t.Fatalf("unknown type %q", name)
	}
	return Type(v)
}

func outcome(allowed bool, err error, filter bool) goldenDecision {
	switch {
	case err != nil:
		return goldenDecision{Error: err.Error()}
	case allowed:
		return goldenDecision{Result: "allowed"}
	case filter:
		return goldenDecision{Result: "filtered"}
	}
	return goldenDecision{Result: "denied without error"}
}

func TestDecisionsEqualFeast(t *testing.T) {
	doc, reg := loadGolden(t)
	if doc.Format != 1 {
		t.Fatalf("golden format %d", doc.Format)
	}
	plan := Compile(reg, doc.Project)
	users := map[string]*auth.User{}
	for _, u := range doc.Users {
		users[u.Name] = &auth.User{Name: u.Name, Roles: u.Roles, Groups: u.Groups, Namespaces: u.Namespaces}
	}
	if len(doc.Cells) < 1000 {
		t.Fatalf("only %d golden cells", len(doc.Cells))
	}
	bad := 0
	for _, c := range doc.Cells {
		u := users[c.User]
		ref, ok := plan.known[resKey{typeOf(t, c.Resource.Type), c.Resource.Name}]
		if !ok {
			t.Fatalf("%s %s: not compiled from the registry", c.Resource.Type, c.Resource.Name)
		}
		if got := ref.class(); got != c.Resource.Class {
			t.Errorf("%s %s: class %s, Feast %s", c.Resource.Type, c.Resource.Name, got, c.Resource.Class)
		}
		acts := make([]Action, len(c.Actions))
		for i, a := range c.Actions {
			acts[i] = actionOf(t, a)
		}
		err := ref.Check(u, acts...)
		if got := outcome(err == nil, err, false); got != c.Check {
			bad++
			if bad <= 20 {
				t.Errorf("check user=%q %s:%s %v:\n  ours  %+v\n  Feast %+v", c.User, c.Resource.Type, c.Resource.Name, c.Actions, got, c.Check)
			}
		}
		keep, err := ref.Permitted(u, acts...)
		if got := outcome(keep, err, true); got != c.Filter {
			bad++
			if bad <= 20 {
				t.Errorf("filter user=%q %s:%s %v:\n  ours  %+v\n  Feast %+v", c.User, c.Resource.Type, c.Resource.Name, c.Actions, got, c.Filter)
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%d of %d decisions differ from Feast's", bad, 2*len(doc.Cells))
	}

	empty := Compile(&corepb.Registry{}, doc.Project)
	for _, c := range doc.NoPermissions.Cells {
		ref := empty.Ref(Resource{Type: typeOf(t, doc.NoPermissions.Resource.Type), Name: doc.NoPermissions.Resource.Name})
		err := ref.Check(users[c.User], ReadOnline)
		if got := outcome(err == nil, err, false); got != c.Check {
			t.Errorf("no permissions, user=%q: ours %+v, Feast %+v", c.User, got, c.Check)
		}
	}
}

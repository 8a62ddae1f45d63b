package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/feastgo/feastgo/onlinestore"
	"github.com/feastgo/feastgo/onlinestore/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (onlinestore.Store, onlinestore.Writer) {
		s, err := Open(filepath.Join(t.TempDir(), "online.db"), "proj")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s, s
	})
}

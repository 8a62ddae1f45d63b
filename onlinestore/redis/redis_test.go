package redis

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/feastgo/feastgo/internal/testenv"
	"github.com/feastgo/feastgo/onlinestore"
	"github.com/feastgo/feastgo/onlinestore/storetest"
)

var seq atomic.Int64

// factory gives every subtest its own project: Redis keys end with the
// project name, so subtests never see each other's hashes.
func factory(typ, env string, skipDedup bool) storetest.Factory {
	return func(t *testing.T) (onlinestore.Store, onlinestore.Writer) {
		addrs := strings.Split(testenv.Service(t, env), ",")
		project := fmt.Sprintf("storetest_%d_%d", time.Now().UnixNano(), seq.Add(1))
		s, err := New(Options{Type: typ, Addrs: addrs, Project: project, SkipDedup: skipDedup, KeyTTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s, s
	}
}

func TestConformanceStandalone(t *testing.T) {
	storetest.Run(t, factory("redis", "FEASTGO_TEST_REDIS", false))
}

func TestConformanceStandaloneSkipDedup(t *testing.T) {
	storetest.Run(t, factory("redis", "FEASTGO_TEST_REDIS", true))
}

func TestConformanceCluster(t *testing.T) {
	storetest.Run(t, factory("redis_cluster", "FEASTGO_TEST_REDIS_CLUSTER", false))
}

func TestConformanceSentinel(t *testing.T) {
	storetest.Run(t, factory("redis_sentinel", "FEASTGO_TEST_REDIS_SENTINEL", false))
}

// Ping fails, within its context's deadline, for every deployment kind
// when nothing listens and when the server accepts but never answers.
func TestPingUnreachable(t *testing.T) {
	dead, silent := storetest.DeadAddr(t), storetest.SilentAddr(t)
	for _, typ := range []string{"redis", "redis_cluster", "redis_sentinel"} {
		for name, addr := range map[string]string{"nothing listening": dead, "never answering": silent} {
			s, err := New(Options{Type: typ, Addrs: []string{addr}, Project: "p", Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			storetest.CheckPingFails(t, typ+", "+name, s)
			_ = s.Close()
		}
	}
}

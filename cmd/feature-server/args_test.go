package main

import (
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/feastgo/feastgo/internal/testenv"
)

func strp(s string) *string { return &s }

// The command lines below were checked against click 8.5 with Feast
// 0.67.0's options (feast's group and its serve and materialize commands):
// each "want" is what click parsed, each "err" names what click named.

func TestParseGlobalArgs(t *testing.T) {
	def := globalArgs{repo: ".", logLevel: "info"}
	cases := []struct {
		args []string
		env  string
		want globalArgs
		rest []string
		err  string
	}{
		{args: []string{"-c/r", "serve"}, want: globalArgs{repo: "/r", logLevel: "info"}, rest: []string{"serve"}},
		{args: []string{"-c", "/r", "serve"}, want: globalArgs{repo: "/r", logLevel: "info"}, rest: []string{"serve"}},
		{args: []string{"--chdir", "/r", "serve"}, want: globalArgs{repo: "/r", logLevel: "info"}, rest: []string{"serve"}},
		{args: []string{"--chdir=/r", "serve"}, want: globalArgs{repo: "/r", logLevel: "info"}, rest: []string{"serve"}},
		// click keeps the "=" of a glued short option in the value.
		{args: []string{"-c=/r", "serve"}, want: globalArgs{repo: "=/r", logLevel: "info"}, rest: []string{"serve"}},
		{args: []string{"-f/y.yaml", "--log-level=debug", "serve"}, want: globalArgs{repo: ".", yamlPath: "/y.yaml", logLevel: "debug"}, rest: []string{"serve"}},
		{args: []string{"--feature-store-yaml", "/y.yaml", "--log-level", "debug", "serve"}, want: globalArgs{repo: ".", yamlPath: "/y.yaml", logLevel: "debug"}, rest: []string{"serve"}},
		// A group stops at its command: the command's -c is not ours.
		{args: []string{"serve", "-c", "cert.pem"}, want: def, rest: []string{"serve", "-c", "cert.pem"}},
		{args: []string{"--", "serve"}, want: def, rest: []string{"serve"}},
		{args: []string{"serve"}, env: "/from-env", want: globalArgs{repo: "/from-env", logLevel: "info"}, rest: []string{"serve"}},
		{args: []string{"-c/r", "serve"}, env: "/from-env", want: globalArgs{repo: "/r", logLevel: "info"}, rest: []string{"serve"}},
		{args: []string{"-c"}, err: "option '-c' requires an argument"},
		{args: []string{"--chdir"}, err: "option '--chdir' requires an argument"},
		{args: []string{"-x", "serve"}, err: "no such option '-x'"},
		{args: []string{"--chdi=/r", "serve"}, err: "no such option '--chdi'"},
	}
	for _, c := range cases {
		g, rest, err := parseGlobalArgs(c.args, c.env)
		if c.err != "" {
			if err == nil || err.Error() != c.err {
				t.Errorf("%q: error %v, want %q", c.args, err, c.err)
			}
			continue
		}
		if err != nil || g != c.want || !reflect.DeepEqual(rest, c.rest) {
			t.Errorf("%q: got %+v %q %v, want %+v %q", c.args, g, rest, err, c.want, c.rest)
		}
	}
	if _, _, err := parseGlobalArgs([]string{"--help"}, ""); !errors.Is(err, errHelp) {
		t.Errorf("--help: %v", err)
	}
}

func TestParseServeArgs(t *testing.T) {
	def, err := parseServeArgs(nil)
	if err != nil {
		t.Fatal(err)
	}
	if def.host != "127.0.0.1" || def.port != 6566 || def.typ != "http" || def.registryTTL != 60 || !def.fillEmpty || def.metricsOn || def.metricsPort != 8000 || def.odfvExec != "auto" {
		t.Fatalf("defaults: %+v", def)
	}
	with := func(change func(*serveFlags)) serveFlags { f := def; change(&f); return f }
	cases := []struct {
		args []string
		want serveFlags
		err  string
	}{
		// Feast's harness: "--host 0.0.0.0 --port N", and the line.
		{args: []string{"--host", "0.0.0.0", "--port", "7000"}, want: with(func(f *serveFlags) { f.host, f.port = "0.0.0.0", 7000 })},
		{args: []string{"-h127.0.0.1", "-p6567"}, want: with(func(f *serveFlags) { f.port = 6567 })},
		{args: []string{"-h", "0.0.0.0", "-p", "6567"}, want: with(func(f *serveFlags) { f.host, f.port = "0.0.0.0", 6567 })},
		{args: []string{"--host=0.0.0.0", "--port=6567"}, want: with(func(f *serveFlags) { f.host, f.port = "0.0.0.0", 6567 })},
		// A value is taken as it is, even one that looks like an option.
		{args: []string{"--host", "--port"}, want: with(func(f *serveFlags) { f.host = "--port" })},
		{args: []string{"-t", "http", "--type=http", "-thttp"}, want: def},
		{args: []string{"-r5"}, want: with(func(f *serveFlags) { f.registryTTL = 5 })},
		{args: []string{"--registry_ttl_sec", "0"}, want: with(func(f *serveFlags) { f.registryTTL = 0 })},
		{args: []string{"-kkey.pem", "-ccert.pem"}, want: with(func(f *serveFlags) { f.tls.key, f.tls.cert = "key.pem", "cert.pem" })},
		{args: []string{"--key=key.pem", "--cert", "cert.pem"}, want: with(func(f *serveFlags) { f.tls.key, f.tls.cert = "key.pem", "cert.pem" })},
		{args: []string{"-m"}, want: with(func(f *serveFlags) { f.metricsOn = true })},
		{args: []string{"--metrics"}, want: with(func(f *serveFlags) { f.metricsOn = true })},
		{args: []string{"-mm"}, want: with(func(f *serveFlags) { f.metricsOn = true })},
		// A cluster: flags, then one option that takes the rest or the next argument.
		{args: []string{"-mh1.2.3.4"}, want: with(func(f *serveFlags) { f.metricsOn, f.host = true, "1.2.3.4" })},
		{args: []string{"-mp", "7001"}, want: with(func(f *serveFlags) { f.metricsOn, f.port = true, 7001 })},
		{args: []string{"-mw2"}, want: with(func(f *serveFlags) { f.metricsOn = true })},
		{args: []string{"-w", "4", "--workers=4", "--worker-connections", "10", "--max-requests=1", "--max-requests-jitter", "1"}, want: def},
		{args: []string{"--keep-alive-timeout=5", "--read-timeout", "2s", "--request-timeout=1s", "--max-entities", "10"},
			want: with(func(f *serveFlags) {
				f.keepAlive, f.readTimeout, f.requestTimeout, f.maxEntities = 5, 2*time.Second, time.Second, 10
			})},
		{args: []string{"--no-access-log"}, want: with(func(f *serveFlags) { f.noAccessLog = true })},
		{args: []string{"--grpc-port", "7002", "--max-body-bytes=100", "--odfv-execution", "native", "--metrics-port=9000"},
			want: with(func(f *serveFlags) { f.grpcPort, f.maxBody, f.odfvExec, f.metricsPort = 7002, 100, "native", 9000 })},
		{args: []string{"--no-materialize-if-empty"}, want: with(func(f *serveFlags) { f.fillEmpty = false })},
		{args: []string{"--no-materialize-if-empty", "--materialize-if-empty"}, want: def},
		{args: []string{"--materialize-if-empty=false"}, want: with(func(f *serveFlags) { f.fillEmpty = false })},
		{args: []string{"--", "-p"}, err: "got unexpected extra argument (-p)"},
		{args: []string{"extra"}, err: "got unexpected extra argument (extra)"},
		{args: []string{"-p"}, err: "option '-p' requires an argument"},
		{args: []string{"-mp"}, err: "option '-p' requires an argument"},
		{args: []string{"--port"}, err: "option '--port' requires an argument"},
		{args: []string{"--port", "x"}, err: "invalid value for '--port' / '-p': 'x' is not a valid integer"},
		{args: []string{"-px"}, err: "invalid value for '--port' / '-p': 'x' is not a valid integer"},
		{args: []string{"--metrics=1"}, err: "option '--metrics' does not take a value"},
		{args: []string{"--no-access-log=true"}, err: "option '--no-access-log' does not take a value"},
		{args: []string{"--no-materialize-if-empty=true"}, err: "option '--no-materialize-if-empty' does not take a value"},
		{args: []string{"--materialize-if-empty=maybe"}, err: "option '--materialize-if-empty' does not take a value"},
		{args: []string{"--nope"}, err: "no such option '--nope'"},
		{args: []string{"-x"}, err: "no such option '-x'"},
		{args: []string{"-mx"}, err: "no such option '-x'"},
		// Go's flag package accepted single-dash long names; click does not.
		{args: []string{"-grpc-port", "1"}, err: "no such option '-g'"},
	}
	for _, c := range cases {
		f, err := parseServeArgs(c.args)
		if c.err != "" {
			if err == nil || err.Error() != c.err {
				t.Errorf("%q: error %v, want %q", c.args, err, c.err)
			}
			continue
		}
		if err != nil || f != c.want {
			t.Errorf("%q: got %+v %v\nwant %+v", c.args, f, err, c.want)
		}
	}
	if _, err := parseServeArgs([]string{"-m", "--help"}); !errors.Is(err, errHelp) {
		t.Errorf("--help: %v", err)
	}
}

func TestParseMaterializeArgs(t *testing.T) {
	cases := []struct {
		args        []string
		incremental bool
		want        materializeArgs
		err         string
	}{
		{args: []string{"a", "-vX", "b", "-v=Y", "--views", "Z", "--views=W", "--version=v2"},
			want: materializeArgs{times: []string{"a", "b"}, views: []string{"X", "=Y", "Z", "W"}, version: strp("v2")}},
		{args: []string{"-v", "X", "--version", "v1", "--disable-event-timestamp"},
			want: materializeArgs{views: []string{"X"}, version: strp("v1"), disableEventTS: true}},
		{args: []string{"e", "-vX"}, incremental: true, want: materializeArgs{times: []string{"e"}, views: []string{"X"}}},
		{args: []string{"--disable-event-timestamp"}, incremental: true, err: "no such option '--disable-event-timestamp'"},
		{args: []string{"--disable-event-timestamp=1"}, err: "option '--disable-event-timestamp' does not take a value"},
		{args: []string{"a", "b", "-v"}, err: "option '-v' requires an argument"},
		{args: []string{"--version"}, err: "option '--version' requires an argument"},
		{args: []string{"-5", "x"}, err: "no such option '-5'"},
		{args: []string{"--", "-5", "x"}, want: materializeArgs{times: []string{"-5", "x"}}},
	}
	for _, c := range cases {
		a, err := parseMaterializeArgs(c.args, c.incremental)
		if c.err != "" {
			if err == nil || err.Error() != c.err {
				t.Errorf("%q: error %v, want %q", c.args, err, c.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(a, c.want) {
			t.Errorf("%q: got %+v %v, want %+v", c.args, a, err, c.want)
		}
	}
}

// TestRunGluedShortOptions is the command line end to end: Feast's
// harness starts the server as "-c" + repo_path.
func TestRunGluedShortOptions(t *testing.T) {
	port := testenv.FreePort(t)
	startServerArgs(t, []string{"-c" + goldenRepo, "serve", "-h127.0.0.1", fmt.Sprintf("-p%d", port)})
	waitHTTP(t, http.DefaultClient, fmt.Sprintf("http://127.0.0.1:%d/health", port))
}

func TestRunHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"serve", "--help"}, {"materialize", "--help"}} {
		out, err := runCLI(t, args...)
		if err != nil || !strings.Contains(out, "usage:") {
			t.Errorf("%q: %v %q", args, err, out)
		}
	}
}

package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestParseLogFormat(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
		err  string
	}{
		{args: []string{"serve"}, want: ""},
		{args: []string{"--log-format", "json", "serve"}, want: "json"},
		{args: []string{"--log-format=text", "--log-level", "debug", "serve"}, want: "text"},
		{args: []string{"--log-format", "xml", "serve"}, err: "invalid value for '--log-format': 'xml' is not one of 'text', 'json'"},
		{args: []string{"--log-format=JSON", "serve"}, err: "invalid value for '--log-format': 'JSON' is not one of 'text', 'json'"},
		{args: []string{"--log-format"}, err: "option '--log-format' requires an argument"},
	} {
		g, _, err := parseGlobalArgs(c.args, "")
		if c.err != "" {
			if err == nil || err.Error() != c.err {
				t.Errorf("%q: error %v, want %q", c.args, err, c.err)
			}
			continue
		}
		if err != nil || g.logFormat != c.want {
			t.Errorf("%q: format %q %v, want %q", c.args, g.logFormat, err, c.want)
		}
	}
}

func TestNewLoggerFormats(t *testing.T) {
	var text, js bytes.Buffer
	newLogger(&text, "info", "").Info("hello", "k", "v w")
	newLogger(&js, "info", "json").Info("hello", "k", "v w")
	newLogger(&js, "info", "json").Debug("not at info")
	if got := text.String(); !strings.Contains(got, `msg=hello k="v w"`) {
		t.Errorf("text log %q", got)
	}
	lines := strings.Split(strings.TrimSpace(js.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("JSON log has %d lines: %q", len(lines), js.String())
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &m); err != nil || m["msg"] != "hello" || m["k"] != "v w" || m["level"] != "INFO" {
		t.Errorf("JSON log %q: %v %v", lines[0], m, err)
	}
}

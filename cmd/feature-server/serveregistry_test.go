package main

import (
	"strings"
	"testing"
)

func TestParseServeRegistryArgs(t *testing.T) {
	tests := []struct {
		args    []string
		port    int
		host    string
		wantErr string
	}{
		{nil, 6570, "::", ""},
		{[]string{"-p", "7000", "--host", "127.0.0.1"}, 7000, "127.0.0.1", ""},
		{[]string{"--port=7001", "--grpc", "--rest-port", "9"}, 7001, "::", ""},
		{[]string{"--rest-api"}, 0, "", "only the gRPC registry server"},
		{[]string{"--no-grpc"}, 0, "", "only the gRPC registry server"},
		{[]string{"--key", "k.pem"}, 0, "", "--key and --cert must be given together"},
		{[]string{"--client-ca", "ca.pem"}, 0, "", "--client-ca: needs --key and --cert"},
		{[]string{"extra"}, 0, "", "takes no arguments"},
		{[]string{"-p", "x"}, 0, "", "x"},
	}
	for _, tt := range tests {
		a, err := parseServeRegistryArgs(tt.args)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: err = %v, want %q", tt.args, err, tt.wantErr)
			}
			continue
		}
		if err != nil || a.port != tt.port || a.host != tt.host {
			t.Errorf("%q = %+v, %v; want port %d host %s", tt.args, a, err, tt.port, tt.host)
		}
	}
}

package otelenv

import (
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	for _, c := range []struct {
		env      map[string]string
		on       bool
		protocol string
		err      string
		warn     string
	}{
		{env: nil},
		{env: map[string]string{"OTEL_SERVICE_NAME": "x", "OTEL_TRACES_SAMPLER": "always_on"}},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, on: true, protocol: "http/protobuf"},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, on: true, protocol: "grpc"},
		// The traces-specific protocol wins over the general one.
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "c", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf"}, on: true, protocol: "http/protobuf"},
		// otlp named without an endpoint: the exporter's default one.
		{env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, on: true, protocol: "http/protobuf"},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "c", "OTEL_TRACES_EXPORTER": "none"}},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "c", "OTEL_SDK_DISABLED": "TRUE"}},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "c", "OTEL_SDK_DISABLED": "false"}, on: true, protocol: "http/protobuf"},
		{env: map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, warn: "zipkin"},
		{env: map[string]string{"OTEL_TRACES_EXPORTER": "console, otlp"}, on: true, protocol: "http/protobuf", warn: "console"},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "c", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, err: "OTEL_EXPORTER_OTLP_PROTOCOL"},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "c", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "thrift"}, err: "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"},
	} {
		cfg, err := Read(func(k string) string { return c.env[k] })
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%v: error %v, want one naming %s", c.env, err, c.err)
			}
			continue
		}
		if err != nil || cfg.On != c.on || (c.on && cfg.Protocol != c.protocol) {
			t.Errorf("%v: got %+v, %v; want on=%v protocol %q", c.env, cfg, err, c.on, c.protocol)
		}
		if !c.on && cfg.Reason == "" {
			t.Errorf("%v: off without a reason", c.env)
		}
		if c.warn != "" && !strings.Contains(strings.Join(cfg.Warnings, " "), c.warn) {
			t.Errorf("%v: warnings %v, want one naming %s", c.env, cfg.Warnings, c.warn)
		}
	}
}

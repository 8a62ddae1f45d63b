package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

const healthcheckUsage = `usage: feature-server healthcheck [options]

Asks a running server for its health and exits 0 when it answers 200, 1
otherwise (printing the answer). It is the container healthcheck: the
distroless image has no shell or curl.

  -u, --url URL       what to ask (default http://127.0.0.1:6566/health/detail)
  -t, --timeout D     give up after D (default 2s)
`

type healthcheckArgs struct {
	url     string
	timeout time.Duration
}

func parseHealthcheckArgs(args []string) (healthcheckArgs, error) {
	a := healthcheckArgs{url: "http://127.0.0.1:6566/health/detail", timeout: 2 * time.Second}
	var fs optionSet
	fs.str(&a.url, "--url", "-u")
	fs.duration(&a.timeout, "--timeout", "-t")
	fs.help()
	rest, err := fs.parse(args)
	if err != nil {
		return a, err
	}
	switch {
	case len(rest) > 0:
		return a, fmt.Errorf("healthcheck takes no arguments, got %q", rest[0])
	case a.timeout <= 0:
		return a, fmt.Errorf("--timeout: must be positive, got %s", a.timeout)
	case !strings.HasPrefix(a.url, "http://") && !strings.HasPrefix(a.url, "https://"):
		return a, fmt.Errorf("--url: must start with http:// or https://, got %q", a.url)
	}
	return a, nil
}

// runHealthcheck is one GET with a deadline. Any answer but 200 is a failure
// whose status and body (the detailed health's checks) are in the error.
func runHealthcheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	a, err := parseHealthcheckArgs(args)
	if errors.Is(err, errHelp) {
		fmt.Fprint(stdout, healthcheckUsage)
		return nil
	}
	if err != nil {
		fmt.Fprint(stderr, healthcheckUsage)
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.url, nil)
	if err != nil {
		return fmt.Errorf("--url: %v", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("unhealthy: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("unhealthy: %s answered %d %s", a.url, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	if len(body) > 0 {
		fmt.Fprintln(stdout, strings.TrimSpace(string(body)))
	}
	return nil
}

package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/feastgo/feastgo/core"
)

// fakeClock is the failure log's injected clock.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func newTestFailureLog(level slog.Level) (*failureLog, *fakeClock, *bytes.Buffer) {
	var buf bytes.Buffer
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: level}))
	return newFailureLog(log, 10*time.Second, clock.now), clock, &buf
}

func logLines(buf *bytes.Buffer) []string {
	s := strings.TrimSpace(buf.String())
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

var storeDown = core.Unavailable(errors.New("connection refused"), "online store redis is unreachable")

// 1000 failures over 25 s: the first at ERROR, then one summary each 10 s.
func TestFailureLogThrottles(t *testing.T) {
	f, clock, buf := newTestFailureLog(slog.LevelInfo)
	for i := range 1000 {
		f.Failure(storeDown, "request failed", "request_id", fmt.Sprint(i))
		clock.t = clock.t.Add(25 * time.Millisecond)
	}
	lines := logLines(buf)
	if len(lines) > 3 {
		t.Fatalf("%d lines for 1000 failures:\n%s", len(lines), buf)
	}
	if len(lines) != 3 || !strings.Contains(lines[0], `level=ERROR msg="request failed" request_id=0 class=FeastOnlineStoreUnavailable`) {
		t.Fatalf("lines:\n%s", buf)
	}
	// Failures 1-399 (t = 0.025-9.975 s), written by failure 400 (t = 10 s),
	// then 400-799.
	for i, want := range []string{"interval=10s count=399 class=FeastOnlineStoreUnavailable", "interval=10s count=400 class=FeastOnlineStoreUnavailable"} {
		if !strings.Contains(lines[i+1], "request failures since the last report") || !strings.Contains(lines[i+1], want) {
			t.Errorf("summary %d %q, want %q", i, lines[i+1], want)
		}
	}
	// The rest at shutdown, then nothing left.
	f.Flush()
	lines = logLines(buf)
	if len(lines) != 4 || !strings.Contains(lines[3], "interval=5s count=200 ") {
		t.Fatalf("after Flush:\n%s", buf)
	}
	f.Flush()
	if n := len(logLines(buf)); n != 4 {
		t.Errorf("a second Flush wrote %d lines", n-4)
	}
}

// Each failure's detail is at DEBUG; classes are counted apart, and a
// class quiet for an interval is logged at ERROR again.
func TestFailureLogClasses(t *testing.T) {
	f, clock, buf := newTestFailureLog(slog.LevelDebug)
	internal := errors.New("boom")
	f.Failure(storeDown, "request failed")
	f.Failure(storeDown, "request failed")
	f.Failure(internal, "request failed")
	f.Failure(context.DeadlineExceeded, "request failed")
	f.Failure(internal, "request failed")
	lines := logLines(buf)
	want := []string{"level=ERROR msg=\"request failed\" class=FeastOnlineStoreUnavailable", "level=DEBUG msg=\"request failed\" class=FeastOnlineStoreUnavailable",
		"level=ERROR msg=\"request failed\" class=Internal", "level=ERROR msg=\"request failed\" class=DeadlineExceeded", "level=DEBUG msg=\"request failed\" class=Internal"}
	if len(lines) != len(want) {
		t.Fatalf("lines:\n%s", buf)
	}
	for i := range want {
		if !strings.Contains(lines[i], want[i]) {
			t.Errorf("line %d %q, want %q", i, lines[i], want[i])
		}
	}
	// Poll writes the summary once due, and not before.
	clock.t = clock.t.Add(9 * time.Second)
	f.Poll()
	if n := len(logLines(buf)); n != 5 {
		t.Fatalf("summary before the interval:\n%s", buf)
	}
	clock.t = clock.t.Add(time.Second)
	f.Poll()
	lines = logLines(buf)
	if len(lines) != 6 || !strings.Contains(lines[5], "count=2 classes.FeastOnlineStoreUnavailable.count=1") ||
		!strings.Contains(lines[5], "classes.Internal.count=1 classes.Internal.last_err=boom") {
		t.Fatalf("summary:\n%s", buf)
	}
	f.Poll()
	// A failure within the interval after the last one is counted; after
	// an interval of quiet, it is new.
	clock.t = clock.t.Add(5 * time.Second)
	f.Failure(storeDown, "request failed") // 15 s after the class's last failure
	if lines := logLines(buf); len(lines) != 7 || !strings.Contains(lines[6], "level=ERROR") {
		t.Fatalf("after quiet:\n%s", buf)
	}
}

// The summary of a run of failures comes at most once an interval, even
// when a class starts counting after a summary.
func TestFailureLogAtMostOneSummaryPerInterval(t *testing.T) {
	f, clock, buf := newTestFailureLog(slog.LevelInfo)
	for range 20_000 { // 200 s, a failure each 10 ms
		f.Failure(storeDown, "request failed")
		clock.t = clock.t.Add(10 * time.Millisecond)
	}
	if n := len(logLines(buf)); n < 19 || n > 21 {
		t.Fatalf("%d lines in 200 s:\n%s", n, buf)
	}
}

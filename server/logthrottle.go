package server

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/feastgo/feastgo/core"
)

// DefaultFailureLogInterval is how often a run of failures is summarised.
const DefaultFailureLogInterval = 10 * time.Second

// failureLog keeps a store outage from flooding the log: the first
// failure of an error class is logged at ERROR with its detail; the
// failures that follow within the interval are counted (each at DEBUG),
// and their counts per class are logged in one summary line at most once
// an interval. There is no goroutine: the summary is written by the first
// failure or request (Poll) once the interval is over, and by Flush.
type failureLog struct {
	log      *slog.Logger
	interval time.Duration
	now      func() time.Time

	// pending is set while counts wait for a summary, so that Poll costs
	// one atomic load when nothing does.
	pending atomic.Bool

	mu sync.Mutex
	// since is when the counted failures began; reported, when the last
	// summary was written.
	since, reported time.Time
	counts          map[string]int
	// last is when each class last failed; a class quiet for an interval
	// is new again.
	last    map[string]time.Time
	lastErr map[string]string
}

func newFailureLog(log *slog.Logger, interval time.Duration, now func() time.Time) *failureLog {
	if now == nil {
		now = time.Now
	}
	if interval <= 0 {
		interval = DefaultFailureLogInterval
	}
	return &failureLog{log: log, interval: interval, now: now,
		counts: map[string]int{}, last: map[string]time.Time{}, lastErr: map[string]string{}}
}

// errorClass names err's class for counting: its Feast class (such as
// FeastOnlineStoreUnavailable), DeadlineExceeded, or Internal for an
// untyped error.
func errorClass(err error) string {
	var e *core.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "DeadlineExceeded"
	case errors.As(err, &e) && e.Class != "":
		return e.Class
	}
	return "Internal"
}

// Failure logs one failed request: msg and attrs are its detail.
func (f *failureLog) Failure(err error, msg string, attrs ...any) {
	class := errorClass(err)
	f.mu.Lock()
	now := f.now()
	f.summariseLocked(now)
	last, seen := f.last[class]
	f.last[class] = now
	first := !seen || now.Sub(last) >= f.interval && f.counts[class] == 0
	if !first {
		if len(f.counts) == 0 {
			f.since = last // the class's line at ERROR, or a failure since counted
			if f.reported.After(last) {
				f.since = f.reported
			}
		}
		f.counts[class]++
		f.lastErr[class] = err.Error()
		f.pending.Store(true)
	}
	f.mu.Unlock()
	attrs = append(attrs, "class", class, "err", err)
	if first {
		f.log.Error(msg, attrs...)
	} else {
		f.log.Debug(msg, attrs...)
	}
}

// Poll writes the summary when one is due; it is cheap when none waits.
func (f *failureLog) Poll() {
	if !f.pending.Load() {
		return
	}
	f.mu.Lock()
	f.summariseLocked(f.now())
	f.mu.Unlock()
}

// Flush writes the failures counted and not yet summarised, due or not
// (at shutdown).
func (f *failureLog) Flush() {
	f.mu.Lock()
	f.writeSummaryLocked(f.now())
	f.mu.Unlock()
}

func (f *failureLog) summariseLocked(now time.Time) {
	if len(f.counts) > 0 && now.Sub(f.since) >= f.interval {
		f.writeSummaryLocked(now)
	}
}

// writeSummaryLocked logs one line per interval: each class's count and
// last error, and the total.
func (f *failureLog) writeSummaryLocked(now time.Time) {
	if len(f.counts) == 0 {
		return
	}
	classes := make([]string, 0, len(f.counts))
	total := 0
	for c, n := range f.counts {
		classes = append(classes, c)
		total += n
	}
	sort.Strings(classes)
	attrs := []any{"interval", now.Sub(f.since).Round(time.Second).String(), "count", total}
	if len(classes) == 1 {
		attrs = append(attrs, "class", classes[0], "last_err", f.lastErr[classes[0]])
	} else {
		per := make([]any, 0, len(classes))
		for _, c := range classes {
			per = append(per, slog.Group(c, "count", f.counts[c], "last_err", f.lastErr[c]))
		}
		attrs = append(attrs, slog.Group("classes", per...))
	}
	f.log.Error("request failures since the last report, per error class", attrs...)
	clear(f.counts)
	clear(f.lastErr)
	f.reported = now
	f.pending.Store(false)
}

package client

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Options tune a Client. The zero value is usable: 5 s per attempt, two
// retries, backoff from 50 ms doubling up to 1 s.
type Options struct {
	// Timeout bounds each attempt; the caller's context bounds the whole
	// call, retries included. Zero means 5 s.
	Timeout time.Duration
	// MaxRetries is how many times a call answered 503 (HTTP) or
	// Unavailable (gRPC) is tried again. Zero means 2; negative, none.
	MaxRetries int
	// Backoff is the wait before the first retry, doubled for each next
	// one up to MaxBackoff; each wait is drawn uniformly from [d/2, d].
	// Zero means 50 ms and 1 s.
	Backoff, MaxBackoff time.Duration
	// Token, when set, is called before each attempt and its result sent
	// as a bearer token ("Authorization: Bearer …" on HTTP, "authorization"
	// metadata on gRPC), as Feast's clients send theirs.
	Token func(ctx context.Context) (string, error)
}

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = 2
	}
	if o.Backoff <= 0 {
		o.Backoff = 50 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = time.Second
	}
	if o.MaxBackoff < o.Backoff {
		o.MaxBackoff = o.Backoff
	}
	return o
}

// OnlineRequest is an online read: Features or FeatureService, and one
// column of values per join key (all of the same length).
type OnlineRequest struct {
	// Features are "view:feature" references, or FeatureService names a
	// feature service; exactly one of them is set.
	Features       []string
	FeatureService string
	// Entities maps each join key to its values, one per entity row.
	// Values may be int, int32, int64, float32, float64, string, bool or
	// []byte; an INT32 join key must be given int32 values over gRPC.
	Entities map[string][]any
	// RequestContext holds the request data of on-demand views, column
	// per field, as Entities does.
	RequestContext map[string][]any
	// FullFeatureNames names the answer's columns "view__feature".
	FullFeatureNames bool
}

// PushTo is where a push writes.
type PushTo string

// Push destinations, as Feast names them.
const (
	PushOnline           PushTo = "online"
	PushOffline          PushTo = "offline"
	PushOnlineAndOffline PushTo = "online_and_offline"
)

// PushRequest writes rows through a push source.
type PushRequest struct {
	PushSource string
	// Rows holds the rows column by column (all of the same length),
	// values typed as in OnlineRequest.Entities; timestamps may also be
	// time.Time.
	Rows map[string][]any
	// To defaults to PushOnline.
	To PushTo
}

// WriteRequest writes rows to a feature view's online table.
type WriteRequest struct {
	FeatureView string
	Rows        map[string][]any
}

// transport is one wire protocol. Each method makes one attempt.
type transport interface {
	getOnlineFeatures(ctx context.Context, req *OnlineRequest, token string) (*OnlineResponse, error)
	push(ctx context.Context, req *PushRequest, token string) error
	writeToOnlineStore(ctx context.Context, req *WriteRequest, token string) error
	health(ctx context.Context, token string) error
	close() error
}

// Client talks to one feature server. It is safe for concurrent use and
// keeps its connections for reuse: make one per server and share it.
type Client struct {
	t    transport
	opts Options
}

// GetOnlineFeatures reads features for entity rows.
func (c *Client) GetOnlineFeatures(ctx context.Context, req *OnlineRequest) (*OnlineResponse, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	var out *OnlineResponse
	err := c.do(ctx, retryable, func(ctx context.Context, token string) (err error) {
		out, err = c.t.getOnlineFeatures(ctx, req, token)
		return err
	})
	return out, err
}

// Push writes rows through a push source. A push that reaches the offline
// store appends rows there, so it is retried only when the server refused
// it whole (503 / Unavailable before the write); an online push overwrites
// and is retried like a read.
func (c *Client) Push(ctx context.Context, req *PushRequest) error {
	if req.PushSource == "" {
		return &Error{Kind: KindInvalidArgument, Message: "PushRequest.PushSource: required"}
	}
	if _, err := columnsLen("PushRequest.Rows", req.Rows); err != nil {
		return err
	}
	retry := retryable
	if req.To != "" && req.To != PushOnline {
		retry = retryableUnapplied
	}
	return c.do(ctx, retry, func(ctx context.Context, token string) error {
		return c.t.push(ctx, req, token)
	})
}

// WriteToOnlineStore writes rows to a feature view's online table.
func (c *Client) WriteToOnlineStore(ctx context.Context, req *WriteRequest) error {
	if req.FeatureView == "" {
		return &Error{Kind: KindInvalidArgument, Message: "WriteRequest.FeatureView: required"}
	}
	if _, err := columnsLen("WriteRequest.Rows", req.Rows); err != nil {
		return err
	}
	return c.do(ctx, retryable, func(ctx context.Context, token string) error {
		return c.t.writeToOnlineStore(ctx, req, token)
	})
}

// Health returns nil when the server says it can answer reads (HTTP
// /health, gRPC health service); a *Error of KindUnavailable otherwise.
// It is not retried.
func (c *Client) Health(ctx context.Context) error {
	return c.do(ctx, nil, func(ctx context.Context, token string) error {
		return c.t.health(ctx, token)
	})
}

// Close releases the client's connections.
func (c *Client) Close() error { return c.t.close() }

// do runs attempt until it succeeds, fails with an error retry (nil:
// none) does not accept, the retries are spent or ctx ends. Each attempt
// has its own deadline of Options.Timeout.
func (c *Client) do(ctx context.Context, retry func(error) bool, attempt func(ctx context.Context, token string) error) error {
	wait := c.opts.Backoff
	for n := 0; ; n++ {
		err := c.attempt(ctx, attempt)
		if err == nil || retry == nil || n >= c.opts.MaxRetries || !retry(err) || ctx.Err() != nil {
			return err
		}
		d := wait/2 + rand.N(wait/2+1)
		timer := time.NewTimer(d)
		select {
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("%w (while waiting to retry after: %v)", ctx.Err(), err)
		case <-timer.C:
		}
		wait = min(wait*2, c.opts.MaxBackoff)
	}
}

func (c *Client) attempt(ctx context.Context, attempt func(ctx context.Context, token string) error) error {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	var token string
	if c.opts.Token != nil {
		t, err := c.opts.Token(ctx)
		if err != nil {
			return fmt.Errorf("client: getting a token: %w", err)
		}
		token = t
	}
	return attempt(ctx, token)
}

// retryable accepts an Unavailable error: the server answered 503 /
// Unavailable, or no answer came.
func retryable(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == KindUnavailable
}

// retryableUnapplied accepts an Unavailable error only when the request
// cannot have been applied: the server refused it, or it was never sent.
// Appends (pushes to the offline store) retry only on these.
func retryableUnapplied(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == KindUnavailable && !e.mayHaveApplied
}

func (r *OnlineRequest) validate() error {
	switch {
	case len(r.Features) == 0 && r.FeatureService == "":
		return &Error{Kind: KindInvalidArgument, Message: "OnlineRequest: one of Features or FeatureService is required"}
	case len(r.Features) > 0 && r.FeatureService != "":
		return &Error{Kind: KindInvalidArgument, Message: "OnlineRequest: Features and FeatureService are exclusive"}
	}
	if _, err := columnsLen("OnlineRequest.Entities", r.Entities); err != nil {
		return err
	}
	_, err := columnsLen("OnlineRequest.RequestContext", r.RequestContext)
	return err
}

// columnsLen checks that every column of cols has the same length.
func columnsLen(field string, cols map[string][]any) (int, error) {
	n, first := -1, ""
	for name, vs := range cols {
		if n >= 0 && len(vs) != n {
			return 0, &Error{Kind: KindInvalidArgument, Message: fmt.Sprintf("%s: column %q has %d values, column %q has %d", field, name, len(vs), first, n)}
		}
		if n < 0 {
			n, first = len(vs), name
		}
	}
	return max(n, 0), nil
}

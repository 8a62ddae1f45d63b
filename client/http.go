package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// maxAnswer bounds the size of an answer read: 256 MiB.
const maxAnswer = 256 << 20

// NewHTTP returns a client of the server's HTTP API at baseURL
// ("http://host:6566"). hc may be nil for a pooled client of its own.
func NewHTTP(baseURL string, hc *http.Client, opts Options) (*Client, error) {
	if !strings.HasPrefix(baseURL, "http://") && !strings.HasPrefix(baseURL, "https://") {
		return nil, &Error{Kind: KindInvalidArgument, Message: fmt.Sprintf("baseURL %q: must start with http:// or https://", baseURL)}
	}
	own := hc == nil
	if own {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 64
		hc = &http.Client{Transport: tr}
	}
	return &Client{t: &httpTransport{base: strings.TrimRight(baseURL, "/"), hc: hc, own: own}, opts: opts.withDefaults()}, nil
}

type httpTransport struct {
	base string
	hc   *http.Client
	own  bool
}

type onlineBody struct {
	Features         []string         `json:"features,omitempty"`
	FeatureService   string           `json:"feature_service,omitempty"`
	Entities         map[string][]any `json:"entities"`
	RequestContext   map[string][]any `json:"request_context,omitempty"`
	FullFeatureNames bool             `json:"full_feature_names,omitempty"`
}

func (t *httpTransport) getOnlineFeatures(ctx context.Context, req *OnlineRequest, token string) (*OnlineResponse, error) {
	entities := req.Entities
	if entities == nil {
		entities = map[string][]any{}
	}
	body, err := t.post(ctx, "/get-online-features", token, onlineBody{
		Features: req.Features, FeatureService: req.FeatureService, Entities: entities,
		RequestContext: req.RequestContext, FullFeatureNames: req.FullFeatureNames,
	})
	if err != nil {
		return nil, err
	}
	return decodeOnlineJSON(body)
}

func (t *httpTransport) push(ctx context.Context, req *PushRequest, token string) error {
	to := req.To
	if to == "" {
		to = PushOnline
	}
	_, err := t.post(ctx, "/push", token, map[string]any{"push_source_name": req.PushSource, "df": req.Rows, "to": to})
	return err
}

func (t *httpTransport) writeToOnlineStore(ctx context.Context, req *WriteRequest, token string) error {
	_, err := t.post(ctx, "/write-to-online-store", token, map[string]any{"feature_view_name": req.FeatureView, "df": req.Rows})
	return err
}

func (t *httpTransport) health(ctx context.Context, token string) error {
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, t.base+"/health", nil)
	if err != nil {
		return err
	}
	_, err = t.roundTrip(r, token)
	return err
}

func (t *httpTransport) close() error {
	if t.own {
		t.hc.CloseIdleConnections()
	}
	return nil
}

func (t *httpTransport) post(ctx context.Context, path, token string, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, &Error{Kind: KindInvalidArgument, Message: "encoding the request: " + err.Error()}
	}
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, t.base+path, bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	r.Header.Set("Content-Type", "application/json")
	return t.roundTrip(r, token)
}

// roundTrip sends r and returns the body of a 2xx answer; any other answer
// is an *Error, as is a failure to connect (KindUnavailable).
func (t *httpTransport) roundTrip(r *http.Request, token string) ([]byte, error) {
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := t.hc.Do(r)
	if err != nil {
		return nil, transportError(r.Context(), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, transportError(r.Context(), err)
	}
	if resp.StatusCode/100 == 2 {
		return body, nil
	}
	return nil, answerError(resp.StatusCode, body)
}

// transportError classifies a request that got no answer. A canceled
// caller context is returned as it is; a dial failure is Unavailable and
// was never sent; anything later may have been applied.
func transportError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return &Error{Kind: KindDeadline, Message: err.Error(), mayHaveApplied: true}
		}
		return err
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return &Error{Kind: KindUnavailable, Message: err.Error()}
	}
	return &Error{Kind: KindUnavailable, Message: err.Error(), mayHaveApplied: true}
}

// answerError reads Feast's error body: a JSON string holding
// {"module", "class", "message"}, pydantic's {"detail": …} for a 422, or
// plain text.
func answerError(code int, body []byte) *Error {
	e := &Error{StatusCode: code, Kind: kindOfStatus(code)}
	var s string
	if json.Unmarshal(body, &s) == nil {
		var d struct{ Class, Message string }
		if json.Unmarshal([]byte(s), &d) == nil && d.Message != "" {
			e.Class, e.Message = d.Class, d.Message
			return e
		}
		e.Message = s
		return e
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(body, &obj) == nil {
		if d, ok := obj["detail"]; ok {
			if json.Unmarshal(d, &s) == nil {
				e.Message = s
			} else {
				e.Message = string(d)
			}
			return e
		}
	}
	const max = 1024
	e.Message = strings.TrimSpace(string(body[:min(len(body), max)]))
	return e
}

func kindOfStatus(code int) Kind {
	switch code {
	case http.StatusBadRequest, http.StatusUnprocessableEntity, http.StatusMethodNotAllowed:
		return KindInvalidArgument
	case http.StatusUnauthorized:
		return KindUnauthenticated
	case http.StatusForbidden:
		return KindPermissionDenied
	case http.StatusNotFound:
		return KindNotFound
	case http.StatusRequestEntityTooLarge, http.StatusRequestHeaderFieldsTooLarge, http.StatusTooManyRequests:
		return KindTooLarge
	case http.StatusServiceUnavailable:
		return KindUnavailable
	case http.StatusGatewayTimeout, http.StatusRequestTimeout:
		return KindDeadline
	}
	return KindInternal
}

// decodeOnlineJSON reads the answer of /get-online-features.
func decodeOnlineJSON(body []byte) (*OnlineResponse, error) {
	doc, err := parseDocument(body)
	if err != nil {
		return nil, fmt.Errorf("client: reading the answer: %w", err)
	}
	bad := func(what string) error { return fmt.Errorf("client: reading the answer: %s", what) }
	top, ok := doc.(map[string]any)
	if !ok {
		return nil, bad("not an object")
	}
	meta, _ := top["metadata"].(map[string]any)
	names, ok := stringList(meta["feature_names"])
	if !ok {
		return nil, bad("metadata.feature_names is not a list of strings")
	}
	results, _ := top["results"].([]any)
	if len(results) != len(names) {
		return nil, bad(fmt.Sprintf("%d results for %d feature names", len(results), len(names)))
	}
	out := &OnlineResponse{FeatureNames: names, Columns: make([][]Feature, len(names))}
	for i, r := range results {
		col, err := decodeColumnJSON(r)
		if err != nil {
			return nil, bad(fmt.Sprintf("results[%d]: %v", i, err))
		}
		out.Columns[i] = col
	}
	return out, nil
}

func decodeColumnJSON(r any) ([]Feature, error) {
	m, _ := r.(map[string]any)
	values, _ := m["values"].([]any)
	statuses, ok1 := stringList(m["statuses"])
	stamps, ok2 := stringList(m["event_timestamps"])
	if !ok1 || !ok2 || len(statuses) != len(values) || len(stamps) != len(values) {
		return nil, errors.New("values, statuses and event_timestamps differ in length or type")
	}
	col := make([]Feature, len(values))
	for j, v := range values {
		st, err := parseStatus(statuses[j])
		if err != nil {
			return nil, err
		}
		ts, err := time.Parse(time.RFC3339Nano, stamps[j])
		if err != nil {
			return nil, fmt.Errorf("event_timestamps[%d]: %v", j, err)
		}
		col[j] = Feature{Value: v, Status: st, EventTime: ts}
	}
	return col, nil
}

func stringList(v any) ([]string, bool) {
	l, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := make([]string, len(l))
	for i, e := range l {
		if out[i], ok = e.(string); !ok {
			return nil, false
		}
	}
	return out, true
}

package server

import (
	"context"
	"crypto/tls"
	"net/http"
	"strings"
	"unsafe"

	"github.com/valyala/fasthttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/feastgo/feastgo/auth"
	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/internal/feastjson"
)

// Authentication, when the repo's auth type asks for it: every request to
// an API route carries "Authorization: Bearer <token>", the token is
// verified, and its user goes into the request's context, where the
// permission checks find it. Health routes (and unknown routes, which are
// 404 whoever asks) need no token, as in Feast.

// onDemandPrefix starts the one API route with a parameter in its path.
const onDemandPrefix = "/on-demand/"

// userValueKey is the fasthttp user value holding a request's user.
type userValueKey struct{}

// invalidToken is Feast's answer to a request without a valid token.
var invalidToken = feastjson.AppendDetail(nil, "Invalid or expired access token")

// authenticateFast verifies the token of a request on a route that needs
// one, and keeps its user; false when it answered instead (401, or 503
// when the identity provider cannot be reached).
func (h *HTTP) authenticateFast(ctx *fasthttp.RequestCtx) bool {
	path := ctx.URI().PathOriginal()
	if !h.isAPIPath(path) {
		return true
	}
	if h.RequireClientCert && !hasVerifiedCert(ctx.TLSConnectionState()) {
		ctx.SetStatusCode(http.StatusUnauthorized)
		ctx.Response.Header.SetContentType("application/json")
		ctx.SetBody(feastjson.AppendDetail(nil, "A client certificate is required"))
		return false
	}
	if h.Auth == nil {
		return true
	}
	// The header is read in place: Authenticate keeps no token it is given.
	hdr := ctx.Request.Header.Peek("Authorization")
	u, err := h.authenticateHeader(h.fastContext(ctx), unsafe.String(unsafe.SliceData(hdr), len(hdr)))
	if err != nil {
		status, body := http.StatusUnauthorized, invalidToken
		if core.KindOf(err) != core.KindUnauthenticated {
			status, body = appendError(nil, err)
			h.failures.Failure(err, "request failed", "path", string(path), "status", status)
		} else {
			ctx.Response.Header.Set("WWW-Authenticate", "Bearer")
			h.Log.Debug("request refused", "status", status, "path", string(path), "reason", err.Error())
		}
		ctx.SetStatusCode(status)
		ctx.Response.Header.SetContentType("application/json")
		ctx.SetBody(body)
		return false
	}
	ctx.SetUserValue(userValueKey{}, u)
	return true
}

// isAPIPath reports the routes that need a token: every known route but
// the health probes.
func (h *HTTP) isAPIPath(path []byte) bool {
	if isHealthPath(path) {
		return false
	}
	_, known := h.routes[string(path)]
	return known || strings.HasPrefix(string(path), onDemandPrefix)
}

func hasVerifiedCert(st *tls.ConnectionState) bool {
	return st != nil && len(st.VerifiedChains) > 0
}

func (h *HTTP) authenticateHeader(ctx context.Context, header string) (*auth.User, error) {
	return auth.Authenticate(ctx, h.Auth, header)
}

// withUser returns ctx carrying the user fasthttp's request holds, if any.
func withUser(ctx context.Context, values interface{ Value(any) any }) context.Context {
	if u, ok := values.Value(userValueKey{}).(*auth.User); ok {
		return auth.NewContext(ctx, u)
	}
	return ctx
}

// AuthGRPCOptions are the server options that verify every call's token
// (metadata "authorization: Bearer <token>", as Feast's gRPC and Arrow
// Flight token extractors read it) and put its user in the call's
// context; gRPC's health service needs none. None for a nil a (no_auth).
func AuthGRPCOptions(a auth.Authenticator) []grpc.ServerOption {
	if a == nil {
		return nil
	}
	g := grpcAuth{a}
	return []grpc.ServerOption{grpc.ChainUnaryInterceptor(g.unary), grpc.ChainStreamInterceptor(g.stream)}
}

// ClientCertGRPCOptions are the server options that refuse every call
// but health from a connection without a verified client certificate
// (Unauthenticated): the listener's TLS verifies one if given
// (--client-cert if-given), the calls require it.
func ClientCertGRPCOptions() []grpc.ServerOption {
	check := func(ctx context.Context, method string) error {
		if strings.HasPrefix(method, healthService) {
			return nil
		}
		if p, ok := peer.FromContext(ctx); ok {
			if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok && hasVerifiedCert(&ti.State) {
				return nil
			}
		}
		return status.Error(codes.Unauthenticated, "a client certificate is required")
	}
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
			if err := check(ctx, info.FullMethod); err != nil {
				return nil, err
			}
			return handler(ctx, req)
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
			if err := check(ss.Context(), info.FullMethod); err != nil {
				return err
			}
			return handler(srv, ss)
		}),
	}
}

type grpcAuth struct{ a auth.Authenticator }

func (g grpcAuth) authenticate(ctx context.Context, method string) (context.Context, error) {
	if strings.HasPrefix(method, healthService) {
		return ctx, nil
	}
	var header string
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get("authorization"); len(v) > 0 {
			header = v[0]
		}
	}
	u, err := auth.Authenticate(ctx, g.a, header)
	if err == nil {
		return auth.NewContext(ctx, u), nil
	}
	_, code := StatusOf(err)
	return nil, status.Error(code, err.Error())
}

func (g grpcAuth) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	ctx, err := g.authenticate(ctx, info.FullMethod)
	if err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

func (g grpcAuth) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	ctx, err := g.authenticate(ss.Context(), info.FullMethod)
	if err != nil {
		return err
	}
	return handler(srv, userStream{ss, ctx})
}

// userStream is a stream whose context holds the caller's user.
type userStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s userStream) Context() context.Context { return s.ctx }

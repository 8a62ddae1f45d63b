package server

import (
	"bufio"
	"io"
	"net"
	"net/http"
)

// Handler serves requests in process through NewFastServer, the one HTTP
// stack the binary serves, so that tests written against an http.Handler
// (httptest recorders and servers) test it: each request is written on an
// in-memory connection the fasthttp server serves (ServeConn, as for an
// accepted connection: the same parsing, limits, headers and panics
// answered), and the answer read off it is copied to w. An answer cut
// short (the connection closed without one) is net/http's
// http.ErrAbortHandler. It is for tests (ours and other packages') and
// for embedding; the binary serves NewFastServer on its listener.
func (h *HTTP) Handler() http.Handler {
	s := h.NewFastServer()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		client, conn := net.Pipe()
		served := make(chan struct{})
		go func() {
			defer close(served)
			_ = s.ServeConn(conn)
		}()
		defer func() {
			_ = client.Close()
			<-served
		}()
		out := r.Clone(r.Context())
		out.RequestURI = ""
		// Written alongside the read: the server may answer (a 413) without
		// reading the body, and then the rest of the write fails.
		go func() { _ = out.Write(client) }()
		resp, err := http.ReadResponse(bufio.NewReader(client), out)
		if err != nil {
			panic(http.ErrAbortHandler)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			panic(http.ErrAbortHandler)
		}
		for k, vs := range resp.Header {
			w.Header()[k] = vs
		}
		if resp.Close {
			w.Header().Set("Connection", "close")
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(body)
	})
}

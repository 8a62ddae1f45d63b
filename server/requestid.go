package server

import (
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"

	"github.com/valyala/fasthttp"
)

// RequestIDHeader carries a request's id: taken from the request when it
// has a usable one, generated otherwise, and sent back on every answer.
const RequestIDHeader = "X-Request-ID"

var requestIDKey = []byte(RequestIDHeader)

// maxRequestIDLen bounds a request id taken from a client.
const maxRequestIDLen = 128

// requestIDLen is the length of a generated id: 16 random bytes in hex.
const requestIDLen = 32

// validRequestID reports whether a client's id is kept: 1 to
// maxRequestIDLen printable ASCII characters (space to tilde), so that it
// cannot break a log line or a header.
func validRequestID(id []byte) bool {
	if len(id) == 0 || len(id) > maxRequestIDLen {
		return false
	}
	for _, c := range id {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// newRequestID fills buf with a new id. The bytes come from math/rand/v2's
// runtime source (per-thread ChaCha8, no lock, no system call): an id
// needs to be unique in the logs, not unpredictable.
func newRequestID(buf *[requestIDLen]byte) []byte {
	var raw [requestIDLen / 2]byte
	binary.LittleEndian.PutUint64(raw[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(raw[8:], rand.Uint64())
	hex.Encode(buf[:], raw[:])
	return buf[:]
}

// requestID returns the id of ctx's request: the request's own when
// valid (it then points into the request's buffers, valid while the
// request is served), else a new one written into buf, and generated
// true.
func requestID(ctx *fasthttp.RequestCtx, buf *[requestIDLen]byte) (id []byte, generated bool) {
	if id := ctx.Request.Header.PeekBytes(requestIDKey); validRequestID(id) {
		return id, false
	}
	return newRequestID(buf), true
}

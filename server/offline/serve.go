package offline

import (
	"github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/grpc"
)

// MaxMessageBytes bounds one Flight message (one record batch of an
// entity frame or of rows to write). gRPC's default of 4 MiB would refuse
// the single batch pyarrow sends for a frame of a few hundred thousand
// rows; Feast's server has no bound at all.
const MaxMessageBytes = 512 << 20

// NewGRPCServer returns a gRPC server serving s as the Flight service,
// with message limits fit for entity frames. The caller serves and stops
// it.
func NewGRPCServer(s *Server, opts ...grpc.ServerOption) *grpc.Server {
	opts = append([]grpc.ServerOption{grpc.MaxRecvMsgSize(MaxMessageBytes), grpc.MaxSendMsgSize(MaxMessageBytes)}, opts...)
	g := grpc.NewServer(opts...)
	flight.RegisterFlightServiceServer(g, s)
	return g
}

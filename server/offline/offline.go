// Package offline is Feast's offline server (feast serve_offline) over
// Arrow Flight: the adapter between the Flight calls of Feast 0.67's
// remote offline store client (feast/infra/offline_stores/remote.py) and
// the offline half of this server (historical.Retriever for training sets,
// offlinestore.Catalog for pulls, column listing and offline writes).
//
// The wire protocol is Feast's offline_server.py: every call names its API
// in a command descriptor, FlightDescriptor.cmd = JSON {"command_id",
// "api", ...parameters}. Read APIs (get_historical_features, the two
// pulls, get_table_column_names_and_types_from_data_source) arrive as one
// DoExchange: the client streams the entity frame (or a one-column "key"
// placeholder table when it has none) and reads the result on the same
// stream. The older flow, DoPut of the frame then GetFlightInfo and DoGet
// of the flight's ticket, is served too. Write APIs (offline_write_batch,
// write_logged_features, persist, validate_data_source) arrive as DoPut
// and run before it returns.
//
// Errors carry the gRPC code of their kind (server.StatusOf); a Feast
// error class is sent as Feast's server sends it, "Flight error: " and
// the JSON of FeastError.to_error_detail(), which Feast's client raises as
// that exception again.
//
// It imports historical, offlinestore, registry and server (for the error
// mapping); it must not import an engine package or cmd.
package offline

import (
	"context"
	"log/slog"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/historical"
	"github.com/feastgo/feastgo/offlinestore"
	"github.com/feastgo/feastgo/registry"
)

// DefaultPort is feast serve_offline's port.
const DefaultPort = 8815

// maxPending bounds the flights put and not yet fetched (the DoPut then
// DoGet flow), each holding its entity frame: Feast's server keeps them
// without bound; past this a put is refused until one is fetched.
const maxPending = 64

// Server is the Flight service. Its fields are set before it serves and
// not changed afterwards.
type Server struct {
	flight.BaseFlightServer

	// Snapshot returns the current registry snapshot.
	Snapshot func() *registry.Snapshot
	// Historical answers get_historical_features.
	Historical *historical.Retriever
	// Catalog reads and appends to the offline tables.
	Catalog offlinestore.Catalog
	// Location is this server's URI ("grpc+tcp://host:port"), sent in a
	// FlightInfo's endpoints as Feast's server does.
	Location string
	// Repo is the repository directory: relative paths of the files
	// persist and write_logged_features write are under it, as Feast
	// resolves them against repo_path.
	Repo string
	// Log gets one line per failed call.
	Log *slog.Logger

	mu      sync.Mutex
	pending map[string]arrow.RecordBatch // put, awaiting DoGet; key: the command bytes
}

// Close releases the frames of flights put and never fetched.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, f := range s.pending {
		releaseFrame(f)
		delete(s.pending, k)
	}
}

// DoExchange serves a read API in one stream: the entity frame (or the
// placeholder) in, the result out.
func (s *Server) DoExchange(stream flight.FlightService_DoExchangeServer) error {
	ctx := stream.Context()
	cmd, frame, err := readRequest(stream)
	if err != nil {
		return s.fail("DoExchange", nil, err)
	}
	defer releaseFrame(frame)
	var w *flight.Writer
	err = s.read(ctx, cmd, frame, func(rec arrow.RecordBatch) error {
		if w == nil {
			w = flight.NewRecordWriter(stream, ipc.WithSchema(rec.Schema()))
		}
		return w.Write(rec)
	})
	if w != nil {
		if cerr := w.Close(); err == nil {
			err = cerr
		}
	}
	return s.fail("DoExchange", cmd, err)
}

// DoPut runs a write API, or keeps a read API's frame for GetFlightInfo
// and DoGet.
func (s *Server) DoPut(stream flight.FlightService_DoPutServer) error {
	ctx := stream.Context()
	cmd, frame, err := readRequest(stream)
	if err != nil {
		return s.fail("DoPut", nil, err)
	}
	switch cmd.api {
	case apiWriteBatch, apiWriteLogged, apiPersist, apiValidate:
		defer releaseFrame(frame)
		return s.fail("DoPut", cmd, s.write(ctx, cmd, frame))
	case apiHistorical, apiPullLatest, apiPullAll, apiColumns:
	default:
		releaseFrame(frame)
		return s.fail("DoPut", cmd, unknownAPI(cmd.api))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending == nil {
		s.pending = map[string]arrow.RecordBatch{}
	}
	key := string(cmd.raw)
	if old, ok := s.pending[key]; ok {
		releaseFrame(old)
	} else if len(s.pending) >= maxPending {
		releaseFrame(frame)
		return s.fail("DoPut", cmd, core.Errorf(core.KindTooLarge, "", "%d flights are waiting for their DoGet; fetch one first", maxPending))
	}
	s.pending[key] = frame
	return nil
}

// GetFlightInfo describes a flight put and not yet fetched.
func (s *Server) GetFlightInfo(_ context.Context, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	s.mu.Lock()
	_, ok := s.pending[string(desc.GetCmd())]
	s.mu.Unlock()
	if !ok {
		return nil, s.fail("GetFlightInfo", nil, status.Error(codes.NotFound, "Flight not found."))
	}
	return s.info(desc), nil
}

func (s *Server) info(desc *flight.FlightDescriptor) *flight.FlightInfo {
	ep := &flight.FlightEndpoint{Ticket: &flight.Ticket{Ticket: desc.GetCmd()}}
	if s.Location != "" {
		ep.Location = []*flight.Location{{Uri: s.Location}}
	}
	return &flight.FlightInfo{
		Schema:           flight.SerializeSchema(arrow.NewSchema(nil, nil), memory.DefaultAllocator),
		FlightDescriptor: desc,
		Endpoint:         []*flight.FlightEndpoint{ep},
		TotalRecords:     -1,
		TotalBytes:       -1,
	}
}

// DoGet answers a flight put before; the flight is forgotten.
func (s *Server) DoGet(tkt *flight.Ticket, stream flight.FlightService_DoGetServer) error {
	key := string(tkt.GetTicket())
	s.mu.Lock()
	frame, ok := s.pending[key]
	delete(s.pending, key)
	s.mu.Unlock()
	if !ok {
		return s.fail("DoGet", nil, status.Error(codes.NotFound, "Unknown ticket: no flight was put with this command, or it was fetched already"))
	}
	defer releaseFrame(frame)
	cmd, err := parseCommand(tkt.GetTicket())
	if err != nil {
		return s.fail("DoGet", nil, err)
	}
	var w *flight.Writer
	err = s.read(stream.Context(), cmd, frame, func(rec arrow.RecordBatch) error {
		if w == nil {
			w = flight.NewRecordWriter(stream, ipc.WithSchema(rec.Schema()))
		}
		return w.Write(rec)
	})
	if w != nil {
		if cerr := w.Close(); err == nil {
			err = cerr
		}
	}
	return s.fail("DoGet", cmd, err)
}

// ListFlights lists the flights put and not yet fetched.
func (s *Server) ListFlights(_ *flight.Criteria, stream flight.FlightService_ListFlightsServer) error {
	s.mu.Lock()
	keys := make([]string, 0, len(s.pending))
	for k := range s.pending {
		keys = append(keys, k)
	}
	s.mu.Unlock()
	for _, k := range keys {
		desc := &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: []byte(k)}
		if err := stream.Send(s.info(desc)); err != nil {
			return err
		}
	}
	return nil
}

// ListActions advertises what Feast's server advertises (none of them is
// a DoAction: they are DoPut commands).
func (s *Server) ListActions(_ *flight.Empty, stream flight.FlightService_ListActionsServer) error {
	for _, a := range []*flight.ActionType{
		{Type: apiWriteBatch, Description: "Writes the specified arrow table to the data source underlying the specified feature view."},
		{Type: apiWriteLogged, Description: "Writes logged features to a specified destination in the offline store."},
		{Type: apiPersist, Description: "Synchronously executes the underlying query and persists the result in the same offline store at the specified destination."},
	} {
		if err := stream.Send(a); err != nil {
			return err
		}
	}
	return nil
}

// fail logs a failed call and returns its Flight status.
func (s *Server) fail(call string, cmd *command, err error) error {
	if err == nil {
		return nil
	}
	if s.Log != nil {
		api := ""
		if cmd != nil {
			api = cmd.api
		}
		s.Log.Warn("offline server call failed", "call", call, "api", api, "err", err)
	}
	return flightError(err)
}

// dataReader is the receiving side of DoPut and DoExchange.
type dataReader interface {
	Recv() (*flight.FlightData, error)
}

// readRequest reads a call's command descriptor and its whole Arrow
// stream into one record; the placeholder table (a lone "key" column)
// reads as no frame.
func readRequest(stream dataReader) (*command, arrow.RecordBatch, error) {
	rdr, err := flight.NewRecordReader(stream)
	if err != nil {
		return nil, nil, core.Invalidf("the call carries no Arrow stream (send the entity frame, or Feast's one-column \"key\" placeholder table): %v", err)
	}
	defer rdr.Release()
	cmd, err := parseCommand(rdr.LatestFlightDescriptor().GetCmd())
	if err != nil {
		return nil, nil, err
	}
	var recs []arrow.RecordBatch
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	for rdr.Next() {
		rec := rdr.RecordBatch()
		rec.Retain()
		recs = append(recs, rec)
	}
	if err := rdr.Err(); err != nil {
		return nil, nil, core.Invalidf("reading the client's Arrow stream: %v", err)
	}
	schema := rdr.Schema()
	if schema.NumFields() == 1 && schema.Field(0).Name == "key" {
		return cmd, nil, nil
	}
	frame, err := concat(schema, recs)
	if err != nil {
		return nil, nil, err
	}
	return cmd, frame, nil
}

// concat makes one record of a stream's records.
func concat(schema *arrow.Schema, recs []arrow.RecordBatch) (arrow.RecordBatch, error) {
	cols := make([]arrow.Array, schema.NumFields())
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	var rows int64
	for _, r := range recs {
		rows += r.NumRows()
	}
	for i, f := range schema.Fields() {
		switch len(recs) {
		case 0:
			cols[i] = array.MakeArrayOfNull(memory.DefaultAllocator, f.Type, 0)
		case 1:
			cols[i] = recs[0].Column(i)
			cols[i].Retain()
		default:
			parts := make([]arrow.Array, len(recs))
			for j, r := range recs {
				parts[j] = r.Column(i)
			}
			c, err := array.Concatenate(parts, memory.DefaultAllocator)
			if err != nil {
				return nil, core.Invalidf("entity frame column %s: %v", f.Name, err)
			}
			cols[i] = c
		}
	}
	return array.NewRecordBatch(schema, cols, rows), nil
}

func releaseFrame(f arrow.RecordBatch) {
	if f != nil {
		f.Release()
	}
}

package transformations

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/feastgo/feastgo/core"
	servingpb "github.com/feastgo/feastgo/protos/feast/serving"
	"github.com/feastgo/feastgo/registry"
)

// WorkerDetailsPrefix starts the transformation_service_type_details of
// this repository's Python worker (transformations/worker); a service
// announcing it speaks the extended protocol below.
const WorkerDetailsPrefix = "feastgo-worker"

// The two dialects of feast.serving.TransformationService this client
// speaks, told apart by GetTransformationServiceInfo:
//
//   - Feast's own server (`feast serve_transformations`, type PYTHON): the
//     input is the ODFV's input table with pyarrow's types, the output the
//     table transform_arrow(table, full_feature_names=True) returns. Pandas
//     mode only; the output values are converted here as Feast converts
//     them.
//   - The worker (type CUSTOM, details "feastgo-worker …"): every input
//     column is binary, one serialized feast.types.Value per row, and the
//     schema metadata names the requested features and full_feature_names.
//     The worker rebuilds Feast's response proto, runs Feast's own
//     _augment_response_with_on_demand_transforms and returns the computed
//     columns as serialized Values: Feast's exact semantics, both modes.
const (
	metaProtocol  = "feastgo.protocol"
	metaFullNames = "feastgo.full_feature_names"
	metaRequested = "feastgo.requested"
	metaValueType = "feastgo.value_type"
)

type serviceKind int

const (
	kindUnknown serviceKind = iota
	kindFeast
	kindWorker
)

// delegate is a lazily connected TransformationService client.
type delegate struct {
	endpoint string
	project  string
	timeout  time.Duration
	// what names the service in errors ("" : the configured endpoint).
	what string

	mu     sync.Mutex
	conn   *grpc.ClientConn
	client servingpb.TransformationServiceClient
	kind   serviceKind
}

func newDelegate(endpoint, project string, timeout time.Duration) *delegate {
	return &delegate{endpoint: endpoint, project: project, timeout: timeout}
}

func (d *delegate) close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conn == nil {
		return nil
	}
	err := d.conn.Close()
	d.conn, d.client = nil, nil
	return err
}

// unavailable is the error for a service that cannot be reached.
func (d *delegate) unavailable(odfv string, err error) error {
	var e *core.Error
	if d.what != "" {
		e = core.Errorf(core.KindUnavailable, "FeastError",
			"on-demand feature view %s needs %s at %s, which is unavailable", odfv, d.what, d.endpoint)
	} else {
		e = core.Errorf(core.KindUnavailable, "FeastError",
			"on-demand feature view %s needs the transformation service at %s (feature_server.transformation_service_endpoint), which is unavailable", odfv, d.endpoint)
	}
	e.Err = err
	return e
}

// errFeastServerPythonMode marks a python-mode ODFV sent to Feast's own
// transformation server, which runs pandas mode only.
var errFeastServerPythonMode = errors.New("the Feast transformation server runs pandas mode only")

// connect returns the client and the dialect of the service, asking the
// service once.
func (d *delegate) connect(ctx context.Context, odfv string) (servingpb.TransformationServiceClient, serviceKind, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.client == nil {
		conn, err := grpc.NewClient(d.endpoint,
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(256<<20), grpc.MaxCallSendMsgSize(256<<20)))
		if err != nil {
			return nil, 0, d.unavailable(odfv, err)
		}
		d.conn, d.client = conn, servingpb.NewTransformationServiceClient(conn)
	}
	if d.kind == kindUnknown {
		info, err := d.client.GetTransformationServiceInfo(ctx, &servingpb.GetTransformationServiceInfoRequest{})
		if err != nil {
			if ctx.Err() != nil {
				return nil, 0, ctx.Err()
			}
			return nil, 0, d.unavailable(odfv, err)
		}
		d.kind = kindFeast
		if info.GetType() == servingpb.TransformationServiceType_TRANSFORMATION_SERVICE_TYPE_CUSTOM &&
			strings.HasPrefix(info.GetTransformationServiceTypeDetails(), WorkerDetailsPrefix) {
			d.kind = kindWorker
		}
	}
	return d.client, d.kind, nil
}

// transform runs odfv remotely over the frame.
func (d *delegate) transform(ctx context.Context, odfv *registry.ODFV, fr *frame, requested nameSet, fullNames bool) ([]core.Column, error) {
	if d == nil || d.endpoint == "" {
		return nil, core.Errorf(core.KindUnavailable, "FeastError",
			"on-demand feature view %s needs a transformation service, but feature_server.transformation_service_endpoint is empty", odfv.Name)
	}
	if _, ok := ctx.Deadline(); !ok && d.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d.timeout)
		defer cancel()
	}
	client, kind, err := d.connect(ctx, odfv.Name)
	if err != nil {
		return nil, err
	}
	var payload []byte
	if kind == kindWorker {
		payload, err = encodeWorkerInput(odfv, fr, requested, fullNames)
	} else {
		if odfv.Mode != "pandas" {
			e := core.Errorf(core.KindUnimplemented, "NotImplementedError",
				"on-demand feature view %s is in %s mode and cannot run natively; the service at %s is Feast's transformation server, which runs pandas mode only: point feature_server.transformation_service_endpoint at the feastgo worker (transformations/worker), or let the server start its own (--odfv-worker auto)", odfv.Name, odfv.Mode, d.endpoint)
			e.Err = errFeastServerPythonMode
			return nil, e
		}
		payload, err = encodeFeastInput(fr)
	}
	if err != nil {
		return nil, err
	}
	resp, err := client.TransformFeatures(ctx, &servingpb.TransformFeaturesRequest{
		OnDemandFeatureViewName: odfv.Name,
		Project:                 d.project,
		TransformationInput:     &servingpb.ValueType{Value: &servingpb.ValueType_ArrowValue{ArrowValue: payload}},
	})
	if err != nil {
		if ctx.Err() != nil && errors.Is(ctx.Err(), context.Canceled) {
			return nil, ctx.Err()
		}
		st, _ := status.FromError(err)
		switch st.Code() {
		case codes.Unavailable, codes.DeadlineExceeded:
			return nil, d.unavailable(odfv.Name, err)
		case codes.InvalidArgument, codes.NotFound:
			return nil, core.Errorf(core.KindInternal, "FeastError",
				"the transformation service at %s rejected on-demand feature view %s: %s", d.endpoint, odfv.Name, st.Message())
		}
		return nil, core.Errorf(core.KindInternal, "FeastError",
			"on-demand feature view %s failed in the transformation service at %s: %s", odfv.Name, d.endpoint, st.Message())
	}
	out := resp.GetTransformationOutput().GetArrowValue()
	if kind == kindWorker {
		return decodeWorkerOutput(out, fr.rows)
	}
	cols, err := decodeFeastOutput(out)
	if err != nil {
		return nil, core.Errorf(core.KindInternal, "FeastError", "reading the answer of the transformation service at %s for %s: %v", d.endpoint, odfv.Name, err)
	}
	res, err := selectFrameOutputs(odfv, cols, fr, requested, fullNames)
	if err != nil {
		return nil, udfFailure(odfv, err)
	}
	return res, nil
}

// udfFailure turns an evaluation error into the error a request gets.
func udfFailure(odfv *registry.ODFV, err error) error {
	var ue *udfError
	var sl *stepLimitError
	switch {
	case errors.As(err, &ue):
		return core.Errorf(core.KindInternal, ue.class, "on-demand feature view %s: %s", odfv.Name, ue.msg)
	case errors.As(err, &sl):
		return core.Errorf(core.KindInternal, "RuntimeError", "%s", sl.Error())
	case errors.Is(err, errUnsupported):
		return core.Errorf(core.KindUnimplemented, "NotImplementedError",
			"on-demand feature view %s cannot be evaluated natively (%v) and delegation is disabled", odfv.Name, err)
	}
	if core.KindOf(err) != core.KindInternal || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("on-demand feature view %s: %w", odfv.Name, err)
}

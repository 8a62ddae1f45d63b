package transformations

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"weak"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/registry"
)

// Execution says where ODFVs run.
type Execution string

const (
	// Auto runs an ODFV natively when its UDF is in the supported subset
	// and delegates it otherwise (the default).
	Auto Execution = "auto"
	// Native never delegates: ODFVs outside the subset fail with 501.
	Native Execution = "native"
	// Delegate sends every ODFV to the transformation service.
	Delegate Execution = "delegate"
)

// ParseExecution reads an Execution name ("" is Auto).
func ParseExecution(s string) (Execution, error) {
	switch Execution(s) {
	case "", Auto:
		return Auto, nil
	case Native, Delegate:
		return Execution(s), nil
	}
	return "", fmt.Errorf("on-demand execution %q: must be one of auto, native, delegate", s)
}

// Options configures an Engine.
type Options struct {
	// Endpoint is the TransformationService address (host:port), from
	// feature_server.transformation_service_endpoint; "" disables
	// delegation unless Worker is set.
	Endpoint string
	// Project is sent with every delegated call.
	Project string
	// Execution is Auto when empty.
	Execution Execution
	// MaxSteps bounds one native python-mode call: Starlark execution
	// steps allowed per call, plus StepsPerRow for every row. Zero picks
	// the defaults (1,000,000 and 10,000).
	MaxSteps, StepsPerRow uint64
	// Timeout bounds a delegated call when the request has no deadline
	// (default 30s).
	Timeout time.Duration
	// Log receives one line per ODFV and registry version telling how it
	// is evaluated, and delegation fallbacks at debug level.
	Log *slog.Logger
	// Worker, when set, is the server's own Python worker
	// (transformations/worker): a delegated request goes to it when
	// Endpoint is empty or does not answer (from then on), or when the
	// service there is Feast's, which cannot run a python-mode ODFV.
	Worker WorkerSource
}

// WorkerSource gives the gRPC target of a feastgo worker, starting it when
// needed and waiting (for at most ctx) until it serves. A new target means
// a new worker process.
type WorkerSource interface {
	Endpoint(ctx context.Context) (string, error)
	// Replacement is Endpoint after a call to the worker at old found
	// it unreachable: it waits for the worker that replaces it.
	Replacement(ctx context.Context, old string) (string, error)
}

// Path is how an ODFV is evaluated.
type Path string

// Evaluation paths.
const (
	PathStarlark  Path = "native-starlark"
	PathPandas    Path = "native-pandas"
	PathDelegated Path = "delegated"
)

// Decision is the outcome of analysing one ODFV's UDF.
type Decision struct {
	ODFV   string
	Mode   string
	Path   Path
	Reason string // why it is delegated; empty for native paths
}

// Engine evaluates ODFVs; it implements online.Transformer. It is safe for
// concurrent use.
type Engine struct {
	opts     Options
	delegate *delegate
	// useWorker is set once Endpoint did not answer and the worker did.
	useWorker atomic.Bool
	workerMu  sync.Mutex
	worker    *delegate // for the worker's current target
	// cache holds one compiled UDF per *registry.ODFV (so per registry
	// snapshot); entries go when the snapshot's ODFV is collected.
	cache sync.Map // weak.Pointer[registry.ODFV] → *compiled
}

type compiled struct {
	decision Decision
	py       *pyProgram
	pd       *pandasProgram
}

// New returns an Engine. It does not connect to the transformation service
// until an ODFV needs it.
func New(opts Options) *Engine {
	if opts.Execution == "" {
		opts.Execution = Auto
	}
	if opts.MaxSteps == 0 {
		opts.MaxSteps = 1_000_000
	}
	if opts.StepsPerRow == 0 {
		opts.StepsPerRow = 10_000
	}
	if opts.Timeout == 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	e := &Engine{opts: opts}
	if opts.Endpoint != "" {
		e.delegate = newDelegate(opts.Endpoint, opts.Project, opts.Timeout)
	}
	return e
}

// Close releases the connections to the transformation service and the
// worker.
func (e *Engine) Close() error {
	e.workerMu.Lock()
	w := e.worker
	e.worker = nil
	e.workerMu.Unlock()
	var errs []error
	if w != nil {
		errs = append(errs, w.close())
	}
	if e.delegate != nil {
		errs = append(errs, e.delegate.close())
	}
	return errors.Join(errs...)
}

// delegated runs odfv in Python: at Endpoint, or in the server's own
// worker when Endpoint is empty or does not answer, or cannot run the
// ODFV's mode.
func (e *Engine) delegated(ctx context.Context, odfv *registry.ODFV, fr *frame, requested nameSet, fullNames bool) ([]core.Column, error) {
	if e.delegate != nil && !e.useWorker.Load() {
		cols, err := e.delegate.transform(ctx, odfv, fr, requested, fullNames)
		if e.opts.Worker == nil || ctx.Err() != nil {
			return cols, err
		}
		switch {
		case err == nil:
			return cols, nil
		case core.KindOf(err) == core.KindUnavailable:
			cols, werr := e.workerTransform(ctx, odfv, fr, requested, fullNames)
			if werr != nil {
				e.opts.Log.Warn("on-demand feature view needs Python: neither the transformation service nor the server's Python worker answers",
					"name", odfv.Name, "endpoint", e.opts.Endpoint, "service_err", err, "worker_err", werr)
				return nil, werr
			}
			if !e.useWorker.Swap(true) {
				e.opts.Log.Warn("the transformation service does not answer; the server's own Python worker runs on-demand feature views from now on",
					"endpoint", e.opts.Endpoint)
			}
			return cols, nil
		case errors.Is(err, errFeastServerPythonMode):
			return e.workerTransform(ctx, odfv, fr, requested, fullNames)
		}
		return nil, err
	}
	if e.opts.Worker != nil {
		return e.workerTransform(ctx, odfv, fr, requested, fullNames)
	}
	if e.delegate == nil {
		return nil, core.Errorf(core.KindUnavailable, "FeastError",
			"on-demand feature view %s needs a transformation service, but feature_server.transformation_service_endpoint is empty", odfv.Name)
	}
	return e.delegate.transform(ctx, odfv, fr, requested, fullNames)
}

// workerTransform runs odfv in the server's worker. A worker that dies
// during the call is waited for once more: the transformation is a pure
// function of its input, so the retry is safe.
func (e *Engine) workerTransform(ctx context.Context, odfv *registry.ODFV, fr *frame, requested nameSet, fullNames bool) ([]core.Column, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, e.opts.Timeout)
		defer cancel()
	}
	d, err := e.workerDelegate(ctx, odfv, "")
	if err != nil {
		return nil, err
	}
	cols, err := d.transform(ctx, odfv, fr, requested, fullNames)
	if err == nil || core.KindOf(err) != core.KindUnavailable || ctx.Err() != nil {
		return cols, err
	}
	e.opts.Log.Info("the Python worker did not answer; waiting for its replacement", "name", odfv.Name, "err", err)
	if d, err = e.workerDelegate(ctx, odfv, d.endpoint); err != nil {
		return nil, err
	}
	return d.transform(ctx, odfv, fr, requested, fullNames)
}

// workerDelegate is the client for the worker's current process; after
// failed is the target of a worker that did not answer.
func (e *Engine) workerDelegate(ctx context.Context, odfv *registry.ODFV, failed string) (*delegate, error) {
	var addr string
	var err error
	if failed == "" {
		addr, err = e.opts.Worker.Endpoint(ctx)
	} else {
		addr, err = e.opts.Worker.Replacement(ctx, failed)
	}
	if err != nil {
		ce := core.Errorf(core.KindUnavailable, "FeastError",
			"on-demand feature view %s needs Python, and the server's Python worker is not available: %v", odfv.Name, err)
		ce.Err = err
		return nil, ce
	}
	e.workerMu.Lock()
	defer e.workerMu.Unlock()
	if e.worker == nil || e.worker.endpoint != addr {
		if e.worker != nil {
			_ = e.worker.close() // the process it spoke to is gone
		}
		e.worker = newDelegate(addr, e.opts.Project, e.opts.Timeout)
		e.worker.what = "the server's Python worker"
	}
	return e.worker, nil
}

// Decide analyses odfv (once per *registry.ODFV) and says how it runs.
func (e *Engine) Decide(odfv *registry.ODFV) Decision { return e.compile(odfv).decision }

func (e *Engine) compile(odfv *registry.ODFV) *compiled {
	key := weak.Make(odfv)
	if c, ok := e.cache.Load(key); ok {
		return c.(*compiled)
	}
	c := analyse(odfv, e.opts.MaxSteps)
	actual, loaded := e.cache.LoadOrStore(key, c)
	if !loaded {
		runtime.AddCleanup(odfv, func(k weak.Pointer[registry.ODFV]) { e.cache.Delete(k) }, key)
		d := c.decision
		e.opts.Log.Info("on-demand feature view", "name", d.ODFV, "mode", d.Mode, "evaluation", d.Path, "reason", d.Reason)
	}
	return actual.(*compiled)
}

// analyse picks the evaluation path of one ODFV.
func analyse(odfv *registry.ODFV, initSteps uint64) *compiled {
	c := &compiled{decision: Decision{ODFV: odfv.Name, Mode: odfv.Mode, Path: PathDelegated}}
	reason := ""
	switch odfv.Mode {
	case "python":
		if c.py, reason = compilePython(odfv, initSteps); c.py != nil {
			c.decision.Path = PathStarlark
		}
	case "pandas":
		if c.pd, reason = compilePandas(odfv); c.pd != nil {
			c.decision.Path = PathPandas
		}
	default:
		reason = fmt.Sprintf("%s mode is not evaluated natively", odfv.Mode)
	}
	c.decision.Reason = reason
	return c
}

// Transform computes the requested outputs of odfv for rows rows from the
// named input columns (online.Transformer). Output columns are named like
// Feast names them (plain, or "<odfv>__<feature>" with full names), appear
// in Feast's order, and only when Feast would return them: a python-mode
// UDF whose keys are plain names yields nothing with full feature names, as
// in Feast 0.67.0. A UDF error is a KindInternal error carrying its
// message; a native run over the step limit is KindInternal naming the
// limit; an unreachable transformation service is KindUnavailable.
func (e *Engine) Transform(ctx context.Context, odfv *registry.ODFV, outputs []registry.Field, inputs map[string]*core.Column, rows int, fullNames bool) ([]core.Column, error) {
	c := e.compile(odfv)
	fr, err := buildFrame(odfv, inputs, rows, fullNames)
	if err != nil {
		return nil, err
	}
	requested := requestedNames(odfv, outputs, fullNames)
	if e.opts.Execution != Delegate && c.decision.Path != PathDelegated {
		cols, err := e.runNative(ctx, c, odfv, fr, requested, fullNames)
		if err == nil {
			return cols, nil
		}
		var sl *stepLimitError
		var ue *udfError
		switch {
		case errors.As(err, &sl), ctx.Err() != nil:
			return nil, udfFailure(odfv, err)
		case e.opts.Execution == Native || (e.delegate == nil && e.opts.Worker == nil):
			return nil, udfFailure(odfv, err)
		case errors.Is(err, errUnsupported):
			e.opts.Log.Debug("on-demand feature view delegated for this request", "name", odfv.Name, "reason", err)
			return e.delegated(ctx, odfv, fr, requested, fullNames)
		case errors.As(err, &ue):
			// A failure in Starlark may be a difference from Python (bool
			// arithmetic, say): Python has the last word when it can be
			// asked; otherwise the native error stands.
			cols, derr := e.delegated(ctx, odfv, fr, requested, fullNames)
			if derr != nil && core.KindOf(derr) == core.KindUnavailable {
				e.opts.Log.Debug("transformation service unavailable; reporting the native error", "name", odfv.Name, "err", derr)
				return nil, udfFailure(odfv, err)
			}
			return cols, derr
		}
		return nil, udfFailure(odfv, err)
	}
	if e.opts.Execution == Native {
		return nil, core.Errorf(core.KindUnimplemented, "NotImplementedError",
			"on-demand feature view %s cannot be evaluated natively (%s) and delegation is disabled", odfv.Name, c.decision.Reason)
	}
	if e.delegate == nil && e.opts.Worker == nil {
		return nil, core.Errorf(core.KindUnavailable, "FeastError",
			"on-demand feature view %s needs a transformation service (%s), but feature_server.transformation_service_endpoint is empty", odfv.Name, c.decision.Reason)
	}
	return e.delegated(ctx, odfv, fr, requested, fullNames)
}

func (e *Engine) runNative(ctx context.Context, c *compiled, odfv *registry.ODFV, fr *frame, requested nameSet, fullNames bool) (cols []core.Column, err error) {
	defer func() {
		// A defect in an evaluator must fail this request, not the server.
		if r := recover(); r != nil {
			cols, err = nil, core.Errorf(core.KindInternal, "FeastError", "on-demand feature view %s: native evaluation failed: %v", odfv.Name, r)
		}
	}()
	switch c.decision.Path {
	case PathStarlark:
		steps := e.opts.MaxSteps
		if extra := e.opts.StepsPerRow * uint64(fr.rows); extra/e.opts.StepsPerRow == uint64(fr.rows) && steps+extra >= steps {
			steps += extra
		} else {
			steps = math.MaxUint64
		}
		return runPython(ctx, c.py, odfv, fr, requested, steps)
	case PathPandas:
		out, err := runPandas(c.pd, fr)
		if err != nil {
			return nil, err
		}
		return selectFrameOutputs(odfv, out, fr, requested, fullNames)
	}
	return nil, unsupportedf("no native path")
}

func nanValue() float64 { return math.NaN() }

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/csv"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/feastgo/feastgo/config"
	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/historical"
	"github.com/feastgo/feastgo/online"
	"github.com/feastgo/feastgo/registry"
	"github.com/feastgo/feastgo/transformations"
	"github.com/feastgo/feastgo/transformations/worker"
)

const historicalUsage = `usage: feature-server [-c REPO] get-historical-features
           (--entities FILE.parquet|FILE.csv | [--start-date TIME] [--end-date TIME])
           (--features VIEW:FEATURE[,...]... | --feature-service NAME) [--full-feature-names]
           --output OUT.parquet [--batch-size N] [--odfv-worker auto|off] [--odfv-worker-python PATH]

Builds a training set as Feast's get_historical_features does: for each row of
the entity file (join keys, an event_timestamp column or the only timestamp
column, and any label columns), each feature as it was at that row's time.
With --start-date/--end-date instead of --entities (ISO 8601; no offset is
UTC; the end defaults to now, the start to the end minus the views' largest
ttl) it is Feast's retrieval without an entity frame: the rows come from the
sources, as the configured offline store answers it.
The result is written to OUT.parquet batch by batch. On-demand views the
server cannot evaluate natively run in its Python worker, as with serve.
`

type historicalArgs struct {
	entities, output, service string
	startDate, endDate        string
	start, end                *time.Time
	features                  []string
	fullNames                 bool
	batch                     int
	odfvWorker, odfvPython    string
}

func parseHistoricalArgs(args []string) (historicalArgs, error) {
	a := historicalArgs{batch: 65536, odfvWorker: "auto"}
	fs := optionSet{}
	fs.str(&a.entities, "--entities", "-e")
	fs.str(&a.startDate, "--start-date")
	fs.str(&a.endDate, "--end-date")
	fs.str(&a.output, "--output", "-o")
	fs.str(&a.service, "--feature-service")
	fs.strs(&a.features, "--features", "-f")
	fs.flag(&a.fullNames, "--full-feature-names")
	fs.integer(&a.batch, "--batch-size")
	fs.str(&a.odfvWorker, "--odfv-worker")
	fs.str(&a.odfvPython, "--odfv-worker-python")
	fs.help()
	rest, err := fs.parse(args)
	if err != nil {
		return a, err
	}
	switch {
	case len(rest) > 0:
		return a, fmt.Errorf("unexpected argument %q", rest[0])
	case a.entities != "" && a.startDate != "":
		return a, errors.New("--start-date: give either --entities or --start-date/--end-date, not both")
	case a.entities != "" && a.endDate != "":
		return a, errors.New("--end-date: give either --entities or --start-date/--end-date, not both")
	case a.entities == "" && a.startDate == "" && a.endDate == "":
		return a, errors.New("--entities: required (or --start-date/--end-date for a range without entities)")
	case a.output == "":
		return a, errors.New("--output: required")
	case len(a.features) == 0 && a.service == "":
		return a, errors.New("--features or --feature-service: required")
	case a.batch <= 0:
		return a, errors.New("--batch-size: must be positive")
	case a.odfvWorker != "auto" && a.odfvWorker != "off":
		return a, fmt.Errorf("--odfv-worker %q: must be auto or off", a.odfvWorker)
	}
	for _, d := range []struct {
		flag, s string
		t       **time.Time
	}{{"--start-date", a.startDate, &a.start}, {"--end-date", a.endDate, &a.end}} {
		if d.s == "" {
			continue
		}
		ts, err := core.ParseTime(d.s)
		if err != nil {
			return a, fmt.Errorf("%s: %w", d.flag, err)
		}
		t := time.Unix(ts.Seconds, int64(ts.Nanos)).UTC()
		*d.t = &t
	}
	if a.start != nil && a.end != nil && a.start.After(*a.end) {
		return a, fmt.Errorf("--start-date %s is after --end-date %s", a.startDate, a.endDate)
	}
	var refs []string
	for _, f := range a.features {
		for _, r := range strings.Split(f, ",") {
			if r = strings.TrimSpace(r); r != "" {
				refs = append(refs, r)
			}
		}
	}
	a.features = refs
	return a, nil
}

// runHistorical is "feature-server get-historical-features".
func runHistorical(ctx context.Context, repo, yamlPath string, args []string, log *slog.Logger, stdout, stderr io.Writer) error {
	a, err := parseHistoricalArgs(args)
	if errors.Is(err, errHelp) {
		fmt.Fprint(stdout, historicalUsage)
		return nil
	}
	if err != nil {
		fmt.Fprint(stderr, historicalUsage)
		return err
	}
	cfg, err := config.Load(repo, yamlPath)
	if err != nil {
		return err
	}
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}
	src, closeRegistry, err := openRegistrySource(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeRegistry()
	reg, err := registry.Open(ctx, src, registry.Options{Project: cfg.Project, EnableVersioning: cfg.Registry.EnableOnlineFeatureViewVersioning, Logger: log})
	if err != nil {
		return err
	}
	var frame arrow.RecordBatch
	if a.entities != "" {
		if frame, err = readEntities(a.entities); err != nil {
			return fmt.Errorf("--entities %s: %w", a.entities, err)
		}
		defer frame.Release()
	}
	offline := openOffline(cfg)
	defer offline.Close()
	topts := transformations.Options{Endpoint: cfg.FeatureServer.TransformationServiceEndpoint, Project: cfg.Project, Log: log}
	if a.odfvWorker == "auto" && needsODFVs(reg.Current(), a) {
		w := worker.New(worker.Options{Python: a.odfvPython, Repo: cfg.RepoDir, YAML: yamlPath, Log: log.With("component", "odfv-worker")})
		topts.Worker = w
		wctx, stop := context.WithCancel(context.WithoutCancel(ctx))
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = w.Run(wctx) // a worker that cannot start fails the views that need it
		}()
		defer func() { stop(); <-done }()
	}
	odfvs := transformations.New(topts)
	defer odfvs.Close()
	r := &historical.Retriever{Catalog: offline, Transformer: odfvs, BatchSize: a.batch}
	req := &historical.Request{Features: a.features, FeatureService: a.service, FullFeatureNames: a.fullNames, Entities: frame,
		StartDate: a.start, EndDate: a.end}
	total := int64(-1) // range mode: the rows are not known in advance
	if frame != nil {
		total = frame.NumRows()
	}

	out, err := newParquetOutput(a.output)
	if err != nil {
		return fmt.Errorf("--output %s: %w", a.output, err)
	}
	prog := &cliProgress{out: stdout, bar: stderr, tty: isTerminal(stderr)}
	prog.ViewStarted("training set "+filepath.Base(a.output), time.Time{}, time.Time{})
	var done int64
	err = r.Retrieve(ctx, reg.Current(), req, func(rec arrow.RecordBatch) error {
		if err := out.write(rec); err != nil {
			return fmt.Errorf("--output %s: %w", a.output, err)
		}
		done += rec.NumRows()
		prog.RowsWritten("", done, total)
		return nil
	})
	if cerr := out.close(err == nil); err == nil && cerr != nil {
		err = fmt.Errorf("--output %s: %w", a.output, cerr)
	}
	prog.ViewDone("", done, err)
	return err
}

// needsODFVs reports whether the request names on-demand views (so that
// the Python worker is started only then); a request that does not
// resolve says no and fails later with the resolution's own error.
func needsODFVs(snap *registry.Snapshot, a historicalArgs) bool {
	res, err := online.Resolve(snap, a.features, a.service, a.fullNames)
	return err == nil && len(res.ODFVs) > 0
}

// readEntities reads an entity frame from parquet or CSV (types inferred,
// the event time column parsed by the retrieval).
func readEntities(path string) (arrow.RecordBatch, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var tbl arrow.Table
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		r := csv.NewInferringReader(f, csv.WithHeader(true), csv.WithChunk(65536), csv.WithNullReader(true, ""))
		defer r.Release()
		var recs []arrow.RecordBatch
		for r.Next() {
			rec := r.RecordBatch()
			rec.Retain()
			recs = append(recs, rec)
		}
		if r.Err() != nil && !errors.Is(r.Err(), io.EOF) {
			return nil, r.Err()
		}
		if len(recs) == 0 {
			return nil, errors.New("no rows and no header")
		}
		tbl = array.NewTableFromRecords(recs[0].Schema(), recs)
		for _, rec := range recs {
			rec.Release()
		}
	default:
		tbl, err = pqarrow.ReadTable(context.Background(), f, nil, pqarrow.ArrowReadProperties{Parallel: true}, memory.DefaultAllocator)
		if err != nil {
			return nil, err
		}
	}
	defer tbl.Release()
	return tableRecord(tbl)
}

// tableRecord makes one record of a table's chunks.
func tableRecord(tbl arrow.Table) (arrow.RecordBatch, error) {
	cols := make([]arrow.Array, tbl.NumCols())
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	for i := range cols {
		chunks := tbl.Column(i).Data().Chunks()
		switch len(chunks) {
		case 0:
			cols[i] = array.MakeArrayOfNull(memory.DefaultAllocator, tbl.Schema().Field(i).Type, 0)
		case 1:
			chunks[0].Retain()
			cols[i] = chunks[0]
		default:
			var err error
			if cols[i], err = array.Concatenate(chunks, memory.DefaultAllocator); err != nil {
				return nil, err
			}
		}
	}
	return array.NewRecordBatch(tbl.Schema(), cols, tbl.NumRows()), nil
}

// parquetOutput writes batches to a parquet file, created beside the
// target and renamed over it once complete.
type parquetOutput struct {
	path, tmp string
	f         *os.File
	w         *pqarrow.FileWriter
}

func newParquetOutput(path string) (*parquetOutput, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return nil, err
	}
	return &parquetOutput{path: path, tmp: f.Name(), f: f}, nil
}

func (o *parquetOutput) write(rec arrow.RecordBatch) error {
	if o.w == nil {
		props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Snappy))
		w, err := pqarrow.NewFileWriter(rec.Schema(), o.f, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
		if err != nil {
			return err
		}
		o.w = w
	}
	return o.w.WriteBuffered(rec)
}

// close finishes the file and moves it into place; without ok it removes
// it.
func (o *parquetOutput) close(ok bool) error {
	var err error
	if o.w != nil {
		err = o.w.Close() // closes o.f
	} else {
		err = o.f.Close()
	}
	if !ok || err != nil {
		_ = os.Remove(o.tmp)
		return err
	}
	return os.Rename(o.tmp, o.path)
}

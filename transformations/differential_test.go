package transformations

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/internal/pyfmt"
	"github.com/feastgo/feastgo/internal/testenv"
	corepb "github.com/feastgo/feastgo/protos/feast/core"
	typespb "github.com/feastgo/feastgo/protos/feast/types"
	"github.com/feastgo/feastgo/registry"
)

// A differential case is one ODFV and one batch of inputs, evaluated by
// the native engine and by Feast itself (testdata/feast_oracle.py runs
// Feast's _augment_response_with_on_demand_transforms). Source features
// belong to a view "src" keyed by "id"; request fields to a request
// source "req".
type diffCase struct {
	name      string
	mode      string
	body      string
	singleton bool
	outputs   []registry.Field
	request   []registry.Field
	features  []registry.Field
	reqData   [][]any        // per request field, per row: nil, int, float64, bool, string, []any
	featData  [][]core.Value // per feature, per row
	rows      int
	fullNames bool
	requested []string
	// native marks cases the native engine must answer itself.
	native bool
}

var defName = regexp.MustCompile(`(?m)^def\s+(\w+)`)

func fspec(fs []registry.Field) []*corepb.FeatureSpecV2 {
	out := make([]*corepb.FeatureSpecV2, len(fs))
	for i, f := range fs {
		out[i] = &corepb.FeatureSpecV2{Name: f.Name, ValueType: typespb.ValueType_Enum(f.Type)}
	}
	return out
}

// odfvProto is the registry entry Feast's apply would write for c.
func (c *diffCase) odfvProto() *corepb.OnDemandFeatureView {
	udf := "" // the last top-level def: helpers come first, as in a repo
	for _, m := range defName.FindAllStringSubmatch(c.body, -1) {
		udf = m[1]
	}
	sources := map[string]*corepb.OnDemandSource{}
	if len(c.features) > 0 {
		sources["src"] = &corepb.OnDemandSource{Source: &corepb.OnDemandSource_FeatureViewProjection{
			FeatureViewProjection: &corepb.FeatureViewProjection{FeatureViewName: "src", FeatureColumns: fspec(c.features)}}}
	}
	if len(c.request) > 0 {
		sources["req"] = &corepb.OnDemandSource{Source: &corepb.OnDemandSource_RequestDataSource{
			RequestDataSource: &corepb.DataSource{Name: "req", Type: corepb.DataSource_REQUEST_SOURCE,
				Options: &corepb.DataSource_RequestDataOptions_{RequestDataOptions: &corepb.DataSource_RequestDataOptions{Schema: fspec(c.request)}}}}}
	}
	return &corepb.OnDemandFeatureView{Spec: &corepb.OnDemandFeatureViewSpec{
		Name: "o", Project: "p", Features: fspec(c.outputs), Sources: sources, Mode: c.mode, Singleton: c.singleton,
		FeatureTransformation: &corepb.FeatureTransformationV2{Transformation: &corepb.FeatureTransformationV2_UserDefinedFunction{
			UserDefinedFunction: &corepb.UserDefinedFunctionV2{Name: udf, BodyText: c.body, Mode: c.mode}}},
	}}
}

func regOf(c *diffCase) *corepb.Registry {
	return &corepb.Registry{OnDemandFeatureViews: []*corepb.OnDemandFeatureView{c.odfvProto()}}
}

func (c *diffCase) compile(t *testing.T) *registry.ODFV {
	snap, err := registry.Compile(regOf(c), "p", false)
	if err != nil {
		t.Fatal(err)
	}
	o, ok := snap.ODFV("o")
	if !ok {
		t.Fatal("ODFV o not compiled")
	}
	return o
}

// jsonValue is the value as the server's JSON parser types it.
func jsonValue(v any) core.Value {
	switch v := v.(type) {
	case nil:
		return core.Value{}
	case int:
		return core.Int64Value(int64(v))
	case float64:
		return core.DoubleValue(v)
	case bool:
		return core.BoolValue(v)
	case string:
		return core.StringValue(v)
	case []any:
		out := core.Value{Type: core.UntypedList, List: make([]core.Value, len(v))}
		for i, e := range v {
			out.List[i] = jsonValue(e)
		}
		for _, e := range out.List {
			if !e.IsNull() {
				out.Type = e.Type + 10
				break
			}
		}
		return out
	}
	panic(fmt.Sprintf("jsonValue(%T)", v))
}

// pyJSON writes v as Python's json module reads it (floats keep a point).
func pyJSON(b *bytes.Buffer, v any) {
	switch v := v.(type) {
	case nil:
		b.WriteString("null")
	case int:
		b.WriteString(strconv.Itoa(v))
	case float64:
		switch {
		case math.IsNaN(v):
			b.WriteString("NaN")
		case math.IsInf(v, 1):
			b.WriteString("Infinity")
		case math.IsInf(v, -1):
			b.WriteString("-Infinity")
		default:
			b.WriteString(pyfmt.Float(v))
		}
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case string:
		s, _ := json.Marshal(v)
		b.Write(s)
	case []any:
		b.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			pyJSON(b, e)
		}
		b.WriteByte(']')
	}
}

// inputs builds what the online layer hands Transform, and the oracle's
// request for the same response.
func (c *diffCase) inputs() (map[string]*core.Column, []byte) {
	in := map[string]*core.Column{}
	ids := make([]core.Value, c.rows)
	idVals := make([]any, c.rows)
	for r := range ids {
		ids[r] = core.Int64Value(int64(r + 1))
		idVals[r] = r + 1
	}
	in["id"] = &core.Column{Name: "id", Typed: ids}
	var b bytes.Buffer
	b.WriteString(`{"request": [["id", `)
	pyJSON(&b, idVals)
	b.WriteString("]")
	for i, f := range c.request {
		vals := make([]core.Value, c.rows)
		for r := range vals {
			vals[r] = jsonValue(c.reqData[i][r])
		}
		in[f.Name] = &core.Column{Name: f.Name, Typed: vals}
		b.WriteString(", [")
		n, _ := json.Marshal(f.Name)
		b.Write(n)
		b.WriteString(", ")
		pyJSON(&b, c.reqData[i])
		b.WriteString("]")
	}
	b.WriteString(`], "features": [`)
	for i, f := range c.features {
		raw := make([][]byte, c.rows)
		enc := make([]any, c.rows)
		for r := range raw {
			v := c.featData[i][r]
			if !v.IsNull() {
				raw[r] = core.AppendValueProto(nil, v)
				enc[r] = base64.StdEncoding.EncodeToString(raw[r])
			}
		}
		col := &core.Column{Name: f.Name, Raw: raw}
		full := "src__" + f.Name
		in[f.Name], in[full] = col, col
		name := f.Name
		if c.fullNames {
			name = full
		}
		if i > 0 {
			b.WriteString(", ")
		}
		j, _ := json.Marshal([]any{name, enc, int(f.Type)})
		b.Write(j)
	}
	req := c.requested
	if req == nil {
		for _, o := range c.outputs {
			req = append(req, o.Name)
		}
	}
	odfv, _ := proto.Marshal(c.odfvProto())
	j, _ := json.Marshal(map[string]any{"requested": req, "full_names": c.fullNames, "odfv": odfv})
	b.WriteString("], ")
	b.Write(j[1:])
	return in, b.Bytes()
}

func (c *diffCase) outputFields() []registry.Field {
	if c.requested == nil {
		return c.outputs
	}
	var out []registry.Field
	for _, n := range c.requested {
		for _, o := range c.outputs {
			if o.Name == n {
				out = append(out, o)
			}
		}
	}
	return out
}

type oracle struct {
	in  *bufio.Writer
	out *bufio.Scanner
}

func startOracle(t *testing.T) *oracle {
	venv := testenv.FeastVenv(t)
	script, _ := filepath.Abs(filepath.Join("testdata", "feast_oracle.py"))
	cmd := exec.Command(filepath.Join(venv, "bin", "python"), script)
	cmd.Env = append(os.Environ(), "FEAST_USAGE=False", "PYTHONHASHSEED=0")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); _ = cmd.Wait() })
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	return &oracle{in: bufio.NewWriter(stdin), out: sc}
}

type oracleAnswer struct {
	Columns [][]json.RawMessage `json:"columns"`
	Error   string              `json:"error"`
}

func (o *oracle) ask(t *testing.T, req []byte) oracleAnswer {
	t.Helper()
	o.in.Write(req)
	o.in.WriteByte('\n')
	if err := o.in.Flush(); err != nil {
		t.Fatal(err)
	}
	if !o.out.Scan() {
		t.Fatalf("the oracle stopped: %v", o.out.Err())
	}
	var a oracleAnswer
	if err := json.Unmarshal(o.out.Bytes(), &a); err != nil {
		t.Fatalf("oracle answer %s: %v", o.out.Bytes(), err)
	}
	return a
}

// runDifferential checks every case against Feast. A native answer must
// equal Feast's byte for byte; when Feast fails the native engine must
// fail too; a native "cannot model this" is acceptable (Auto mode then
// delegates) unless the case is marked native.
func runDifferential(t *testing.T, cases []diffCase) {
	o := startOracle(t)
	eng := New(Options{Execution: Native})
	native := 0
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			odfv := c.compile(t)
			in, req := c.inputs()
			want := o.ask(t, req)
			got, err := eng.Transform(context.Background(), odfv, c.outputFields(), in, c.rows, c.fullNames)
			if want.Error != "" {
				if c.native {
					t.Fatalf("the case is marked native but Feast fails: %s", want.Error)
				}
				if err == nil {
					t.Fatalf("Feast fails (%s) but the native engine answers %v", want.Error, describeCols(got))
				}
				return
			}
			if err != nil {
				if c.native {
					t.Fatalf("native evaluation failed: %v (decision %+v); Feast answers %s", err, eng.Decide(odfv), want.Columns)
				}
				t.Logf("not native (would be delegated): %v", err)
				return
			}
			native++
			if len(got) != len(want.Columns) {
				t.Fatalf("columns %v, Feast %s", describeCols(got), want.Columns)
			}
			for i, col := range want.Columns {
				var name string
				var vals []string
				if json.Unmarshal(col[0], &name) != nil || json.Unmarshal(col[1], &vals) != nil {
					t.Fatalf("bad oracle column %s", col)
				}
				if got[i].Name != name {
					t.Fatalf("column %d is %q, Feast %q", i, got[i].Name, name)
				}
				for r, v := range vals {
					wantB, _ := base64.StdEncoding.DecodeString(v)
					gotB := valueBytes(got[i], r)
					if !bytes.Equal(wantB, gotB) {
						t.Errorf("%s row %d: native %s, Feast %s", name, r, showValue(gotB), showValue(wantB))
					}
				}
			}
		})
	}
	t.Logf("%d of %d cases answered natively", native, len(cases))
}

func valueBytes(c core.Column, r int) []byte {
	if c.Raw != nil {
		return c.Raw[r]
	}
	return core.AppendValueProto(nil, c.Typed[r])
}

func showValue(b []byte) string {
	v := &typespb.Value{}
	if err := proto.Unmarshal(b, v); err != nil {
		return fmt.Sprintf("%x", b)
	}
	if v.GetVal() == nil {
		return "null"
	}
	return strings.TrimSpace(v.String())
}

func describeCols(cols []core.Column) string {
	var parts []string
	for _, c := range cols {
		var vs []string
		for r := 0; r < c.Len(); r++ {
			vs = append(vs, showValue(valueBytes(c, r)))
		}
		parts = append(parts, c.Name+"="+strings.Join(vs, "|"))
	}
	return strings.Join(parts, "; ")
}

func TestDifferentialWithFeast(t *testing.T) {
	runDifferential(t, append(handCases(), generatedCases(400)...))
}

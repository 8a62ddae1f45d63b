package online

import (
	"context"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/registry"
)

// ODFVSource is one source feature of an on-demand view as a column of
// an assembled frame: the projection it comes from (its name to use), the
// feature, and the name of the frame column that holds it.
type ODFVSource struct {
	View, Feature, Column string
}

// ODFVInputs builds the columns on-demand views read, by name. It is the
// one place the ODFV inputs are assembled: the online read (frame = the
// response columns), the on-demand endpoint (frame = request data, given
// and read features) and historical retrieval (frame = the point-in-time
// join) all call it, so a UDF sees the same inputs whichever path runs it.
//
// Every frame column is visible under its own name (a later column of the
// same name replaces an earlier one, as in Feast's response dict). Each
// source feature is then also visible under its plain name, unless a
// column already has it, and as "<view>__<feature>".
func ODFVInputs(frame []core.Column, sources []ODFVSource) map[string]*core.Column {
	inputs := make(map[string]*core.Column, len(frame))
	for i := range frame {
		inputs[frame[i].Name] = &frame[i]
	}
	for _, s := range sources {
		c := inputs[s.Column]
		if c == nil {
			continue
		}
		if _, ok := inputs[s.Feature]; !ok {
			inputs[s.Feature] = c
		}
		if full := s.View + "__" + s.Feature; inputs[full] == nil {
			inputs[full] = c
		}
	}
	return inputs
}

// ODFVOutputs is one on-demand view to evaluate and the features of it
// to compute.
type ODFVOutputs struct {
	View     *registry.ODFV
	Features []registry.Field
}

// EvaluateODFVs runs each view's transformation over inputs (from
// ODFVInputs) for rows rows and returns the computed columns, view after
// view, named as fullNames asks. A nil transformer refuses (501).
func EvaluateODFVs(ctx context.Context, t Transformer, views []ODFVOutputs, inputs map[string]*core.Column, rows int, fullNames bool) ([]core.Column, error) {
	if len(views) == 0 {
		return nil, nil
	}
	if t == nil {
		return nil, noTransformer(views[0].View.Name)
	}
	var out []core.Column
	for _, v := range views {
		cols, err := t.Transform(ctx, v.View, v.Features, inputs, rows, fullNames)
		if err != nil {
			return nil, err
		}
		out = append(out, cols...)
	}
	return out, nil
}

// applyODFVs runs the requested on-demand views over the assembled
// response columns (step 4) and appends their outputs.
func (s *Service) applyODFVs(ctx context.Context, p *plan, req *Request, resp *core.OnlineResponse, rows int) error {
	if s.Transformer == nil {
		return noTransformer(p.odfvs[0].View.Name)
	}
	inputs := ODFVInputs(resp.Columns, p.odfvSources)
	outs, err := EvaluateODFVs(ctx, s.Transformer, p.odfvs, inputs, rows, req.FullFeatureNames)
	if err != nil {
		return err
	}
	resp.Columns = append(resp.Columns, outs...)
	return nil
}

func noTransformer(view string) error {
	return core.Errorf(core.KindUnimplemented, "NotImplementedError",
		"on-demand feature view %s cannot be evaluated: no transformation engine is configured", view)
}

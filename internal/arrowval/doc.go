// Package arrowval converts between Arrow arrays and core.Value cells: the
// readers the offline engines and historical retrieval use to see an Arrow
// column as Feast values (Cells, Scalar, Times), and Build, which makes an
// Arrow column of one Feast value type (on-demand outputs of a training
// set).
//
// It imports core and Arrow only; it must not import the stores, the
// registry or any serving package.
package arrowval

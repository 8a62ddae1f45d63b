package arrowval

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/feastgo/feastgo/core"
)

// Times converts a column as TimeReader's accessor does, cell for
// cell, in every unit and for dates; negative values round down.
func TestTimeValuesMatchesTimeReader(t *testing.T) {
	vals := []int64{0, 1, -1, 999, -999, 1_000_001, -1_000_001, 1_735_689_600_123_456, -86_400_000_000_001}
	var arrs []arrow.Array
	for _, unit := range []arrow.TimeUnit{arrow.Second, arrow.Millisecond, arrow.Microsecond, arrow.Nanosecond} {
		b := array.NewTimestampBuilder(memory.DefaultAllocator, &arrow.TimestampType{Unit: unit, TimeZone: "UTC"})
		for _, v := range vals {
			b.Append(arrow.Timestamp(v))
		}
		b.AppendNull()
		arrs = append(arrs, b.NewArray())
		b.Release()
	}
	d32 := array.NewDate32Builder(memory.DefaultAllocator)
	d64 := array.NewDate64Builder(memory.DefaultAllocator)
	for _, v := range vals {
		d32.Append(arrow.Date32(int32(v % 100_000)))
		d64.Append(arrow.Date64(v / 1000))
	}
	d32.AppendNull()
	d64.AppendNull()
	arrs = append(arrs, d32.NewArray(), d64.NewArray())
	d32.Release()
	d64.Release()

	var buf []core.Timestamp // reused, as pass one does
	for _, arr := range arrs {
		get, err := TimeReader(arr)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Times(arr, buf)
		if err != nil {
			t.Fatal(err)
		}
		buf = got
		if len(got) != arr.Len() {
			t.Fatalf("%s: %d values, want %d", arr.DataType(), len(got), arr.Len())
		}
		for i := range got {
			want, ok := get(i)
			if ok != arr.IsValid(i) {
				t.Fatalf("%s row %d: valid %v", arr.DataType(), i, ok)
			}
			if ok && got[i] != want {
				t.Errorf("%s row %d: %v, want %v", arr.DataType(), i, got[i], want)
			}
		}
		arr.Release()
	}
	f := array.NewFloat64Builder(memory.DefaultAllocator)
	defer f.Release()
	f.Append(1)
	notTime := f.NewArray()
	defer notTime.Release()
	if _, err := Times(notTime, buf); err == nil {
		t.Error("a float64 column must not convert to times")
	}
}

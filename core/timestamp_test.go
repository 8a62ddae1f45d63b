package core

import "testing"

func TestParseTime(t *testing.T) {
	for in, want := range map[string]Timestamp{
		"2022-05-13":                          {Seconds: 1652400000},
		"20220513":                            {Seconds: 1652400000},
		"2022-05-13T10:59":                    {Seconds: 1652439540},
		"2022-05-13 10:59:42":                 {Seconds: 1652439582},
		"2022-05-13 10:59:42Z":                {Seconds: 1652439582},
		"2022-05-13 10:59:42+00:00":           {Seconds: 1652439582},
		"2022-05-13T12:59:42.5+0200":          {Seconds: 1652439582, Nanos: 500000000},
		"2022-05-13T05:59:42.000000001-05:00": {Seconds: 1652439582, Nanos: 1},
	} {
		got, err := ParseTime(in)
		if err != nil || got != want {
			t.Errorf("ParseTime(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "nope", "2022-13-01", "2022-05-13 25:00", "2022-05-13 10:59:42+2", "05/13/2022"} {
		if _, err := ParseTime(in); err == nil {
			t.Errorf("ParseTime(%q) succeeded", in)
		}
	}
}

func TestMicrosCutsNanoseconds(t *testing.T) {
	for in, want := range map[int32]int32{0: 0, 999: 0, 1000: 1000, 123456789: 123456000, 999999999: 999999000} {
		if got := (Timestamp{Seconds: 7, Nanos: in}).Micros(); got != (Timestamp{Seconds: 7, Nanos: want}) {
			t.Errorf("Micros of %d ns = %+v, want %d ns", in, got, want)
		}
	}
}

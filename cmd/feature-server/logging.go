package main

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// logFormats are --log-format's values; the first is the default.
var logFormats = []string{"text", "json"}

// choice is click's Choice option: the value must be one of choices.
func (s *optionSet) choice(dst *string, choices []string, names ...string) {
	s.opts = append(s.opts, option{names: names, set: func(v string) error {
		for _, c := range choices {
			if v == c {
				*dst = v
				return nil
			}
		}
		return fmt.Errorf("'%s' is not one of '%s'", v, strings.Join(choices, "', '"))
	}})
}

// newLogger is the program's log on w: slog's text or JSON handler (format
// is a value of --log-format, "" for the default) at level.
func newLogger(w io.Writer, level, format string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: parseLevel(level)}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// This file parses command lines as click (the library behind Feast's CLI,
// click 8.x in Feast 0.67.0) does, so that every command line `feast` accepts
// for the commands we implement is accepted here with the same meaning:
//
//   - a long option takes its value as "--name VALUE" or "--name=VALUE";
//   - a short option takes it as "-n VALUE" or glued, "-nVALUE" (so "-n=V"
//     is the value "=V", as in click);
//   - short flags cluster: "-ab" is "-a -b", and the last short option of a
//     cluster may take a value: "-abVALUE", "-ab VALUE";
//   - a flag given a value ("--metrics=x") is an error, as is an unknown
//     option or a value option at the end of the line;
//   - a value is taken as it is even when it starts with "-" ("--host -x");
//   - "--" ends the options;
//   - a group (the global options) stops at its first positional argument
//     (the command name); a command takes options and positionals in any
//     order.

// errHelp is returned for --help; the caller prints its usage.
var errHelp = errors.New("help requested")

// option is one click option: its names ("--host", "-h"), and either set
// (it takes a value) or flag (it takes none; value is true, or false for a
// name in off, click's "--x/--no-x" pair).
type option struct {
	names []string
	off   []string
	set   func(value string) error
	flag  func(on bool)
	// boolValue lets a long flag also take "=true"/"=false": our own
	// flags that default to true accepted that form before this parser.
	boolValue bool
}

// optionSet is the options of one click command or group.
type optionSet struct {
	opts []option
	// group stops at the first positional argument (click's
	// allow_interspersed_args=False for groups).
	group bool
}

func (s *optionSet) str(dst *string, names ...string) {
	s.opts = append(s.opts, option{names: names, set: func(v string) error { *dst = v; return nil }})
}

func (s *optionSet) strs(dst *[]string, names ...string) {
	s.opts = append(s.opts, option{names: names, set: func(v string) error { *dst = append(*dst, v); return nil }})
}

func (s *optionSet) optStr(dst **string, names ...string) {
	s.opts = append(s.opts, option{names: names, set: func(v string) error { *dst = &v; return nil }})
}

func (s *optionSet) integer(dst *int, names ...string) {
	s.opts = append(s.opts, option{names: names, set: func(v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("'%s' is not a valid integer", v)
		}
		*dst = n
		return nil
	}})
}

func (s *optionSet) int64(dst *int64, names ...string) {
	s.opts = append(s.opts, option{names: names, set: func(v string) error {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return fmt.Errorf("'%s' is not a valid integer", v)
		}
		*dst = n
		return nil
	}})
}

// duration takes a Go duration ("10s", "1m30s").
func (s *optionSet) duration(dst *time.Duration, names ...string) {
	s.opts = append(s.opts, option{names: names, set: func(v string) error {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("'%s' is not a valid duration (such as 10s or 1m30s)", v)
		}
		*dst = d
		return nil
	}})
}

// flag is click's is_flag=True option: present means true.
func (s *optionSet) flag(dst *bool, names ...string) {
	s.opts = append(s.opts, option{names: names, flag: func(on bool) { *dst = on }})
}

// boolPair is click's "--x/--no-x" flag; it also takes "--x=true|false".
func (s *optionSet) boolPair(dst *bool, on, off string) {
	s.opts = append(s.opts, option{names: []string{on}, off: []string{off}, flag: func(v bool) { *dst = v }, boolValue: true})
}

// help adds click's --help.
func (s *optionSet) help() {
	s.opts = append(s.opts, option{names: []string{"--help"}, flag: func(bool) {}})
}

func (s *optionSet) lookup(name string) (opt *option, on bool) {
	for i := range s.opts {
		o := &s.opts[i]
		for _, n := range o.names {
			if n == name {
				return o, true
			}
		}
		for _, n := range o.off {
			if n == name {
				return o, false
			}
		}
	}
	return nil, false
}

// parse applies the options in args and returns the positional arguments
// (for a group: the command name and everything after it).
func (s *optionSet) parse(args []string) ([]string, error) {
	var pos []string
	for i := 0; i < len(args); i++ {
		arg := args[i]
		switch {
		case arg == "--":
			return append(pos, args[i+1:]...), nil
		case strings.HasPrefix(arg, "--"):
			name, value, hasValue := strings.Cut(arg, "=")
			o, on := s.lookup(name)
			if o == nil {
				return nil, fmt.Errorf("no such option '%s'", name)
			}
			if name == "--help" {
				return nil, errHelp
			}
			if o.flag != nil {
				if hasValue {
					b, err := parseBool(value)
					if !o.boolValue || len(o.off) > 0 && !on || err != nil {
						return nil, fmt.Errorf("option '%s' does not take a value", name)
					}
					on = b
				}
				o.flag(on)
				continue
			}
			if !hasValue {
				if i+1 >= len(args) {
					return nil, fmt.Errorf("option '%s' requires an argument", name)
				}
				i++
				value = args[i]
			}
			if err := o.setValue(name, value); err != nil {
				return nil, err
			}
		case strings.HasPrefix(arg, "-") && len(arg) > 1:
			var err error
			if i, err = s.parseShort(args, i); err != nil {
				return nil, err
			}
		default:
			if s.group {
				return append(pos, args[i:]...), nil
			}
			pos = append(pos, arg)
		}
	}
	return pos, nil
}

// parseShort parses the cluster of short options args[i] and returns the
// index of the last argument it used.
func (s *optionSet) parseShort(args []string, i int) (int, error) {
	arg := args[i]
	for j := 1; j < len(arg); j++ {
		name := "-" + arg[j:j+1]
		o, on := s.lookup(name)
		if o == nil {
			return i, fmt.Errorf("no such option '%s'", name)
		}
		if o.flag != nil {
			o.flag(on)
			continue
		}
		value := arg[j+1:]
		if value == "" {
			if i+1 >= len(args) {
				return i, fmt.Errorf("option '%s' requires an argument", name)
			}
			i++
			value = args[i]
		}
		return i, o.setValue(name, value)
	}
	return i, nil
}

func (o *option) setValue(name, value string) error {
	if err := o.set(value); err != nil {
		return fmt.Errorf("invalid value for %s: %w", o.label(), err)
	}
	return nil
}

// label names an option as click's errors do: "'--port' / '-p'".
func (o *option) label() string {
	q := make([]string, len(o.names))
	for i, n := range o.names {
		q[i] = "'" + n + "'"
	}
	return strings.Join(q, " / ")
}

// parseBool reads click's BOOL values.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "true", "t", "yes", "y", "on":
		return true, nil
	case "0", "false", "f", "no", "n", "off":
		return false, nil
	}
	return false, fmt.Errorf("'%s' is not a valid boolean", s)
}

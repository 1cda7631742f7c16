package history

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// fastParse decodes a line the way parseLine does, without reflection, for
// the shape every writer produces: one flat object of the known fields,
// strings without escapes, integers, and a value of any JSON without
// escaped strings. It returns ok=false for anything else (an escape, an
// unknown or repeated field, a float where an int belongs, bad syntax), and
// the caller falls back to encoding/json, which then also words the error.
// Reading JSONL with encoding/json cost most of `faultline check`'s time on
// a million operations.
func fastParse(line []byte, position int, in *interner) (Event, bool) {
	p := scanner{b: line}
	var raw rawEvent
	var index, process int
	var f Func
	seen := 0 // bit per field: a repeated field goes to encoding/json
	if !p.eat('{') {
		return Event{}, false
	}
	p.space()
	if p.eat('}') {
		return Event{}, false
	}
	for {
		p.space()
		name, ok := p.str()
		if !ok {
			return Event{}, false
		}
		p.space()
		if !p.eat(':') {
			return Event{}, false
		}
		p.space()
		bit := 0
		switch string(name) {
		case "index":
			bit = 1
			n, ok := p.int()
			if !ok {
				return Event{}, false
			}
			index, raw.Index = n, &index
		case "time":
			bit = 2
			n, ok := p.int()
			if !ok {
				return Event{}, false
			}
			raw.Time = int64(n)
		case "process":
			bit = 4
			n, ok := p.int()
			if !ok {
				return Event{}, false
			}
			process, raw.Process = n, &process
		case "type":
			bit = 8
			s, ok := p.str()
			if !ok {
				return Event{}, false
			}
			raw.Type = Type(in.str(s))
		case "f":
			bit = 16
			s, ok := p.str()
			if !ok {
				return Event{}, false
			}
			f, raw.F = Func(in.str(s)), &f
		case "key", "node", "error", "label":
			switch string(name) {
			case "key":
				bit = 32
			case "node":
				bit = 64
			case "error":
				bit = 128
			default:
				bit = 256
			}
			if p.null() {
				break
			}
			s, ok := p.str()
			if !ok {
				return Event{}, false
			}
			switch string(name) {
			case "key":
				raw.Key = in.str(s)
			case "node":
				raw.Node = in.str(s)
			case "error":
				raw.Error = string(s)
			default:
				raw.Label = string(s)
			}
		case "value":
			bit = 512
			v, ok := p.value(0)
			if !ok {
				return Event{}, false
			}
			raw.Value = v
		default:
			return Event{}, false
		}
		if seen&bit != 0 {
			return Event{}, false
		}
		seen |= bit
		p.space()
		if p.eat(',') {
			continue
		}
		if !p.eat('}') {
			return Event{}, false
		}
		p.space()
		if p.i != len(p.b) {
			return Event{}, false
		}
		e, err := raw.event(position)
		return e, err == nil
	}
}

// interner shares the strings that repeat from line to line (types, fs,
// keys, nodes): one allocation each instead of one per line. A nil
// interner, or a full one, allocates.
type interner struct{ m map[string]string }

// maxInterned bounds the interner: a history of unique keys gains nothing.
const maxInterned = 1 << 16

func (in *interner) str(b []byte) string {
	if in == nil {
		return string(b)
	}
	if s, ok := in.m[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(in.m) < maxInterned {
		in.m[s] = s
	}
	return s
}

type scanner struct {
	b []byte
	i int
}

func (p *scanner) space() {
	for p.i < len(p.b) && (p.b[p.i] == ' ' || p.b[p.i] == '\t' || p.b[p.i] == '\r' || p.b[p.i] == '\n') {
		p.i++
	}
}

func (p *scanner) eat(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *scanner) null() bool {
	if len(p.b)-p.i >= 4 && string(p.b[p.i:p.i+4]) == "null" {
		p.i += 4
		return true
	}
	return false
}

// str reads a string without escapes or control characters, valid UTF-8.
func (p *scanner) str() ([]byte, bool) {
	if !p.eat('"') {
		return nil, false
	}
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			s := p.b[start:p.i]
			p.i++
			return s, utf8.Valid(s)
		case c == '\\' || c < 0x20:
			return nil, false
		}
		p.i++
	}
	return nil, false
}

// number reads a JSON number's text.
func (p *scanner) number() ([]byte, bool) {
	start := p.i
	p.eat('-')
	digits := func() int {
		n := 0
		for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	intStart := p.i
	n := digits()
	if n == 0 || (n > 1 && p.b[intStart] == '0') {
		return nil, false
	}
	if p.eat('.') && digits() == 0 {
		return nil, false
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if !p.eat('+') {
			p.eat('-')
		}
		if digits() == 0 {
			return nil, false
		}
	}
	return p.b[start:p.i], true
}

// int reads an integer field (encoding/json refuses a fraction there).
func (p *scanner) int() (int, bool) {
	s, ok := p.number()
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(string(s))
	return n, err == nil
}

// value reads any JSON value as encoding/json with UseNumber would.
func (p *scanner) value(depth int) (any, bool) {
	if p.i >= len(p.b) || depth > 64 {
		return nil, false
	}
	switch c := p.b[p.i]; {
	case c == 'n':
		return nil, p.null()
	case c == 't':
		if len(p.b)-p.i >= 4 && string(p.b[p.i:p.i+4]) == "true" {
			p.i += 4
			return true, true
		}
		return nil, false
	case c == 'f':
		if len(p.b)-p.i >= 5 && string(p.b[p.i:p.i+5]) == "false" {
			p.i += 5
			return false, true
		}
		return nil, false
	case c == '"':
		s, ok := p.str()
		return string(s), ok
	case c == '-' || (c >= '0' && c <= '9'):
		s, ok := p.number()
		return json.Number(s), ok
	case c == '[':
		p.i++
		out := []any{}
		p.space()
		if p.eat(']') {
			return out, true
		}
		for {
			p.space()
			v, ok := p.value(depth + 1)
			if !ok {
				return nil, false
			}
			out = append(out, v)
			p.space()
			if p.eat(']') {
				return out, true
			}
			if !p.eat(',') {
				return nil, false
			}
		}
	case c == '{':
		p.i++
		out := map[string]any{}
		p.space()
		if p.eat('}') {
			return out, true
		}
		for {
			p.space()
			k, ok := p.str()
			if !ok {
				return nil, false
			}
			if _, dup := out[string(k)]; dup {
				return nil, false
			}
			p.space()
			if !p.eat(':') {
				return nil, false
			}
			p.space()
			v, ok := p.value(depth + 1)
			if !ok {
				return nil, false
			}
			out[string(k)] = v
			p.space()
			if p.eat('}') {
				return out, true
			}
			if !p.eat(',') {
				return nil, false
			}
		}
	}
	return nil, false
}

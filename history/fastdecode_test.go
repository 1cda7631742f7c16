package history

import (
	"bytes"
	"reflect"
	"testing"
)

// The fast path decodes exactly what encoding/json does, or declines.
func TestFastParseAgreesWithEncodingJSON(t *testing.T) {
	lines := []string{
		`{"index":0,"time":1204332,"process":0,"type":"invoke","f":"write","key":"k3","value":7,"node":"n2"}`,
		`{"index":5,"time":5200912345,"process":-1,"type":"info","f":"start-partition","value":{"fault":"partition","step":0,"nodes":["n3"],"grudge":{"n1":["n3"]}},"node":"n3","label":"one: n3 | n1 n2 n4 n5"}`,
		`{"process":0,"type":"ok","f":"read","key":"a","value":[1.5,-2e3,true,false,null,"x",[],{}]}`,
		`{ "process" : 3 , "type" : "fail" , "f" : "cas" , "value" : [ 1 , 2 ] , "error" : "no leader" }`,
		`{"process":0,"type":"ok","f":"read","key":null,"value":null}`,
		`{"process":0,"type":"ok","f":"read","key":"é ü","value":"ünï"}`,
		// Declined, then judged by encoding/json alike:
		`{"process":0,"type":"ok","f":"read","key":"a\"b","value":1}`,
		`{"process":0,"type":"ok","f":"read","Key":"a","value":1}`,
		`{"process":0,"process":1,"type":"ok","f":"read"}`,
		`{"process":0,"type":"ok","f":"read","time":1.5}`,
		`{"process":0,"type":"ok","f":"read","index":99999999999999999999}`,
		`{"process":0,"type":"ok","f":"read","value":01}`,
		`{"process":0,"type":"ok","f":"read","value":{"a":1,"a":2}}`,
		`{"process":0,"type":"ok","f":"read","extra":1}`,
		`{"process":0,"type":"ok","f":"read"} x`,
		`{"process":0,"type":"okay","f":"read"}`,
		`{"process":0,"type":"ok"}`,
	}
	fast := 0
	for _, l := range lines {
		want, werr := slowParse([]byte(l), 7)
		got, ok := fastParse([]byte(l), 7, nil)
		if !ok {
			continue
		}
		fast++
		if werr != nil {
			t.Errorf("%s: fast path accepted what encoding/json rejects (%v)", l, werr)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\nfast %#v\njson %#v", l, got, want)
		}
	}
	if fast < 6 {
		t.Errorf("the fast path took %d lines, want the first 6", fast)
	}
	// A generated history written by Write goes through the fast path.
	var buf bytes.Buffer
	events := []Event{{Index: 0, Time: 1, Process: 0, Type: Invoke, F: "cas", Key: "k1", Value: []any{1, 2}},
		{Index: 1, Time: 2, Process: 0, Type: OK, F: "cas", Key: "k1", Value: []any{1, 2}}}
	if err := Write(&buf, events); err != nil {
		t.Fatal(err)
	}
	for i, l := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
		if _, ok := fastParse(l, i, &interner{m: map[string]string{}}); !ok {
			t.Errorf("line %s written by Write is not taken by the fast path", l)
		}
	}
}

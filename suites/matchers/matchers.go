// Package matchers holds Gomega matchers for faultline results:
//
//	Expect(res).To(matchers.BeValid())          // no anomaly, and every checker decided
//	Expect(res).To(matchers.BeInvalid())        // a seeded bug was caught
//	Expect(res).To(matchers.HaveAnomaly("linearizable"))
//
// Failure messages carry each checker's verdict, its anomalies, and where
// the run's report and files are, so a red CI line leads straight to them.
package matchers

import (
	"fmt"
	"strings"

	"github.com/onsi/gomega/types"

	"github.com/faultline/faultline"
)

// maxAnomalies caps the anomalies listed per checker in a failure message.
const maxAnomalies = 10

// BeValid succeeds when the run's verdict is valid. Invalid and unknown
// both fail it: an unknown run proves nothing.
func BeValid() types.GomegaMatcher { return &verdictMatcher{want: faultline.Valid} }

// BeInvalid succeeds when the run's verdict is invalid: some checker found
// an anomaly. Unknown fails it: a run whose checker gave up caught nothing.
func BeInvalid() types.GomegaMatcher { return &verdictMatcher{want: faultline.Invalid} }

type verdictMatcher struct{ want faultline.Verdict }

func (m *verdictMatcher) Match(actual any) (bool, error) {
	r, err := result(actual, "Be"+title(m.want.String()))
	if err != nil {
		return false, err
	}
	return r.Verdict == m.want, nil
}

func (m *verdictMatcher) FailureMessage(actual any) string {
	r, _ := result(actual, "")
	msg := fmt.Sprintf("Expected the run to be %s, but it was %s", m.want, r.Describe(maxAnomalies))
	if r.Verdict == faultline.Unknown {
		msg += "\n(unknown neither proves nor refutes: see the reason above)"
	}
	return msg
}

func (m *verdictMatcher) NegatedFailureMessage(actual any) string {
	r, _ := result(actual, "")
	return fmt.Sprintf("Expected the run not to be %s, but it was %s", m.want, r.Describe(maxAnomalies))
}

// HaveAnomaly succeeds when the run found an anomaly of the kind: one
// found by the checker of that name ("linearizable", "set", "counter"), or
// one whose text has the kind as a word ("lost" matches "3 acknowledged
// elements lost").
func HaveAnomaly(kind string) types.GomegaMatcher { return &anomalyMatcher{kind: kind} }

type anomalyMatcher struct{ kind string }

func (m *anomalyMatcher) Match(actual any) (bool, error) {
	r, err := result(actual, "HaveAnomaly")
	if err != nil {
		return false, err
	}
	return r.HasAnomaly(m.kind), nil
}

func (m *anomalyMatcher) FailureMessage(actual any) string {
	r, _ := result(actual, "")
	return fmt.Sprintf("Expected an anomaly of kind %q (checkers with anomalies: %s); the run was %s",
		m.kind, kinds(r), r.Describe(maxAnomalies))
}

func (m *anomalyMatcher) NegatedFailureMessage(actual any) string {
	r, _ := result(actual, "")
	return fmt.Sprintf("Expected no anomaly of kind %q; the run was %s", m.kind, r.Describe(maxAnomalies))
}

// kinds lists the checkers that found anomalies, or "none".
func kinds(r *faultline.Result) string {
	var out []string
	for _, name := range r.CheckerNames() {
		if len(r.Checkers[name].Anomalies) > 0 || r.Checkers[name].Valid == faultline.Invalid {
			out = append(out, name)
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}

// result accepts a *faultline.Result or a faultline.Result.
func result(actual any, matcher string) (*faultline.Result, error) {
	switch r := actual.(type) {
	case *faultline.Result:
		if r == nil {
			return &faultline.Result{}, fmt.Errorf("%s: the result is nil (did the run return an error? check it first)", matcher)
		}
		return r, nil
	case faultline.Result:
		return &r, nil
	}
	return &faultline.Result{}, fmt.Errorf("%s expects a *faultline.Result, got %T", matcher, actual)
}

func title(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

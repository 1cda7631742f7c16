// Package matchers holds Gomega matchers for faultline results:
//
//	Expect(res).To(matchers.BeValid())   // no anomaly, and every checker decided
//	Expect(res).To(matchers.BeInvalid()) // a seeded bug was caught
//	Expect(res).To(matchers.HaveAnomaly(set.Lost))
//	Expect(res).To(matchers.HaveAnomalyFrom("linearizable"))
//
// They match the typed result (faultline.Result, which is outcome.Result):
// its verdict, whose zero value is unknown, and its anomalies' kinds and
// checkers — never their text. Failure messages carry each checker's
// verdict, its anomalies, and where the run's report and files are, so a
// red CI line leads straight to them.
package matchers

import (
	"fmt"
	"strings"

	"github.com/onsi/gomega/types"

	"github.com/faultline/faultline"
	"github.com/faultline/faultline/checkers"
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

// HaveAnomaly succeeds when some checker found an anomaly of kind: each
// checker package names its kinds (set.Lost, set.Unexpected,
// counter.FinalOutOfBounds, lww.LostWrite, convergence.Diverged,
// linearizable.NotLinearizable, …).
func HaveAnomaly(kind checkers.Kind) types.GomegaMatcher {
	return &anomalyMatcher{what: fmt.Sprintf("an anomaly of kind %q", kind), has: func(r *faultline.Result) bool { return r.HasAnomaly(kind) }}
}

// HaveAnomalyFrom succeeds when the named checker (linearizable, set,
// counter, lww, convergence) found an anomaly.
func HaveAnomalyFrom(checker string) types.GomegaMatcher {
	return &anomalyMatcher{what: fmt.Sprintf("an anomaly found by checker %q", checker), has: func(r *faultline.Result) bool { return r.HasAnomalyFrom(checker) }}
}

type anomalyMatcher struct {
	what string
	has  func(*faultline.Result) bool
}

func (m *anomalyMatcher) Match(actual any) (bool, error) {
	r, err := result(actual, "HaveAnomaly")
	if err != nil {
		return false, err
	}
	return m.has(r), nil
}

func (m *anomalyMatcher) FailureMessage(actual any) string {
	r, _ := result(actual, "")
	return fmt.Sprintf("Expected %s (found: %s); the run was %s", m.what, kinds(r), r.Describe(maxAnomalies))
}

func (m *anomalyMatcher) NegatedFailureMessage(actual any) string {
	r, _ := result(actual, "")
	return fmt.Sprintf("Expected no %s; the run was %s", strings.TrimPrefix(m.what, "an "), r.Describe(maxAnomalies))
}

// kinds lists the anomalies found, as checker/kind, or "none".
func kinds(r *faultline.Result) string {
	var out []string
	seen := map[string]bool{}
	for _, a := range r.Anomalies() {
		k := a.Checker + "/" + string(a.Kind)
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
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

package exitcode

import (
	"errors"
	"fmt"
	"testing"

	"github.com/faultline/faultline/checkers"
)

func TestFromVerdict(t *testing.T) {
	for v, want := range map[checkers.Verdict]int{checkers.Valid: 0, checkers.Invalid: 1, checkers.Unknown: 3, checkers.Verdict(42): 3} {
		if got := FromVerdict(v); got != want {
			t.Errorf("FromVerdict(%s) = %d, want %d", v, got, want)
		}
	}
	var zero checkers.Verdict
	if FromVerdict(zero) != Unknown {
		t.Error("the zero verdict does not exit as unknown")
	}
}

func TestFromError(t *testing.T) {
	for err, want := range map[error]int{
		nil: Valid,
		fmt.Errorf("x: %w", Usagef(errors.New("bad flag"))): Usage,
		&ClusterError{Err: errors.New("n2 exited")}:         Unknown,
		&InternalError{Err: errors.New("panic")}:            Internal,
		errors.New("anything else"):                         Unknown,
	} {
		if got := FromError(err); got != want {
			t.Errorf("FromError(%v) = %d, want %d", err, got, want)
		}
	}
}

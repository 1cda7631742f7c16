// Package exitcode is the one place where an outcome becomes a process exit
// code: a verdict through FromVerdict, an error through FromError.
// faultline run, check, shrink, sim and node all exit through it, so the
// codes README documents hold for every command:
//
//	0 valid · 1 anomalies found · 2 bad usage or configuration ·
//	3 unknown, or the cluster could not be brought up · 4 internal error
package exitcode

import (
	"errors"

	"github.com/faultline/faultline/checkers"
)

// The documented exit codes.
const (
	Valid    = 0 // the history was judged and no anomaly was found
	Invalid  = 1 // anomalies found
	Usage    = 2 // bad usage or configuration: nothing ran
	Unknown  = 3 // no verdict: a checker gave up, the run was cut short, or the cluster did not come up
	Internal = 4 // a bug in faultline: a panic or an internal error; what was recorded is kept
)

// ConfigError is bad usage or configuration: exit code 2.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// ClusterError means the cluster could not be brought up (or back): exit 3.
type ClusterError struct{ Err error }

func (e *ClusterError) Error() string { return e.Err.Error() }
func (e *ClusterError) Unwrap() error { return e.Err }

// InternalError is a failure of faultline itself (a panic, an impossible
// state): exit 4. Stack, when set, is the goroutine stack of a panic; the
// CLI prints it after the one-line error.
type InternalError struct {
	Err   error
	Stack []byte
}

func (e *InternalError) Error() string { return e.Err.Error() }
func (e *InternalError) Unwrap() error { return e.Err }

// FromVerdict is the exit code of a judged history: 0 valid, 1 invalid,
// 3 unknown (the zero verdict, and anything that is neither).
func FromVerdict(v checkers.Verdict) int {
	switch v {
	case checkers.Valid:
		return Valid
	case checkers.Invalid:
		return Invalid
	default:
		return Unknown
	}
}

// Usagef wraps err as a *ConfigError.
func Usagef(err error) error { return &ConfigError{Err: err} }

// FromError is the exit code of a command that failed with err (nil: 0).
// Errors of no known type count as the cluster's: exit 3.
func FromError(err error) int {
	var (
		ce *ConfigError
		ie *InternalError
	)
	switch {
	case err == nil:
		return Valid
	case errors.As(err, &ce):
		return Usage
	case errors.As(err, &ie):
		return Internal
	default:
		return Unknown
	}
}

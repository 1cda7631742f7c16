package sim

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/checkers/stats"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/internal/runner"
	"github.com/faultline/faultline/internal/store"
	"github.com/faultline/faultline/outcome"
	"github.com/faultline/faultline/report"
	"github.com/faultline/faultline/workloads"
)

// Judge checks r's history with its workload's checkers, as a real run's
// is checked, within timeout.
func Judge(ctx context.Context, r *Result, timeout time.Duration, noArtifacts bool) (*outcome.Result, error) {
	wl, err := workloads.Default().Get(r.Config.Workload)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	opts := workloads.Options{Seed: r.Config.Seed, Concurrency: r.Config.Concurrency, CheckTimeout: timeout, NoArtifacts: noArtifacts}
	res := &outcome.Result{
		Checkers: checkers.Run(ctx, wl.Checkers(opts), r.Events),
		Stats:    stats.Compute(r.Events),
	}
	recovered := true
	res.Recovered = &recovered
	res.Healed = &outcome.Healed{LinksHealed: true, NodesUp: r.Config.Nodes, Nodes: r.Config.Nodes}
	return res, nil
}

// TestFile is a simulation's test.json: the fields of a real run's (so
// `faultline check`, the report and the index read it), runtime "sim",
// and the simulation's whole Config, from which `faultline sim` replays it.
type TestFile struct {
	runner.Test
	Sim Config `json:"sim"`
}

// Spec returns c as a run's test.json.
func (c Config) Spec(results string) TestFile {
	return TestFile{
		Test: runner.Test{
			System: c.System, Workload: c.Workload, Nemesis: c.Faults, Bugs: c.Bugs, Nodes: c.Nodes,
			Runtime: "sim", TimeLimit: runner.Duration(c.TimeLimit), Concurrency: c.Concurrency, Rate: c.Rate,
			OpTimeout: runner.Duration(c.OpTimeout), NemesisInterval: runner.Duration(c.FaultInterval),
			RecoveryTimeout: runner.Duration(recoverFor), FinalReads: true, Seed: c.Seed, ResultsDir: results,
		},
		Sim: c,
	}
}

// Store writes r as a normal run dir under results: test.json,
// history.jsonl, the checkers' artifacts, results.json and report.html.
// It returns the dir.
func Store(ctx context.Context, results string, r *Result, res *outcome.Result, log *slog.Logger) (string, error) {
	c := r.Config
	dir, err := store.NewRun(results, fmt.Sprintf("sim-%s-%s-s%d", c.System, c.Workload, c.Seed), time.Now())
	if err != nil {
		return "", err
	}
	if err := store.WriteJSON(dir, store.TestFile, c.Spec(results)); err != nil {
		return dir, err
	}
	if err := writeHistory(filepath.Join(dir, store.HistoryFile), r.Events); err != nil {
		return dir, err
	}
	if err := store.WriteArtifacts(dir, res.Checkers); err != nil {
		log.Warn("writing checker artifacts", "err", err)
	}
	res.RunDir = dir
	res.Test, _ = outcome.ReadSpec(dir)
	res.Judge()
	if err := store.WriteJSON(dir, store.ResultsFile, res); err != nil {
		return dir, err
	}
	report.Publish(ctx, dir, log)
	return dir, nil
}

func writeHistory(path string, events []history.Event) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write history: %w", err)
	}
	bw := bufio.NewWriter(f)
	if err := history.Write(bw, events); err != nil {
		f.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write history: %w", err)
	}
	return f.Close()
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

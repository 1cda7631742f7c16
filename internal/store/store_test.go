package store

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/checkers"
)

func TestNewRunCreatesDistinctDirsAndLatest(t *testing.T) {
	results := t.TempDir()
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	a, err := NewRun(results, "quorum-s1", now)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewRun(results, "quorum-s1", now)
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatalf("two runs at the same instant share dir %s", a)
	}
	target, err := os.Readlink(filepath.Join(results, LatestLink))
	if err != nil {
		t.Fatal(err)
	}
	if target != filepath.Base(b) {
		t.Fatalf("latest -> %s, want %s", target, filepath.Base(b))
	}
	if fi, err := os.Stat(filepath.Join(b, "nodes")); err != nil || !fi.IsDir() {
		t.Fatalf("nodes dir missing: %v", err)
	}
}

func TestWriteReadJSONRoundTrip(t *testing.T) {
	dir := t.TempDir()
	in := map[string]any{"seed": 7.0, "system": "quorum"}
	if err := WriteJSON(dir, TestFile, in); err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := ReadJSON(dir, TestFile, &out); err != nil {
		t.Fatal(err)
	}
	if out["seed"] != 7.0 || out["system"] != "quorum" {
		t.Fatalf("round trip gave %v", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "."+TestFile+".tmp")); !os.IsNotExist(err) {
		t.Fatalf("temp file left behind: %v", err)
	}
}

func TestRunsNewestFirstSkippingStrays(t *testing.T) {
	results := t.TempDir()
	base := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	var made []string
	for i, d := range []time.Duration{0, time.Hour, time.Minute, time.Hour} {
		dir, err := NewRun(results, "quorum-register-s1", base.Add(d))
		if err != nil {
			t.Fatal(err)
		}
		if err := WriteJSON(dir, TestFile, map[string]int{"i": i}); err != nil {
			t.Fatal(err)
		}
		made = append(made, filepath.Base(dir))
	}
	if err := os.Mkdir(filepath.Join(results, "not-a-run"), 0o755); err != nil {
		t.Fatal(err)
	}
	ids, err := Runs(results)
	if err != nil {
		t.Fatal(err)
	}
	// made[3] repeats made[1]'s time and got the -1 suffix: it is newer.
	want := []string{made[3], made[1], made[2], made[0]}
	if len(ids) != len(want) {
		t.Fatalf("Runs = %v, want %v", ids, want)
	}
	for i := range want {
		if ids[i] != want[i] {
			t.Fatalf("Runs = %v, want %v", ids, want)
		}
	}
	if got := RunStarted(made[2]); !got.Equal(base.Add(time.Minute)) {
		t.Errorf("RunStarted(%s) = %v", made[2], got)
	}
}

// Checkers return artifacts as bytes; WriteArtifacts is where they become
// files, and results.json then lists only files that exist.
func TestWriteArtifactsWritesDataAndKeepsOnlyWhatExists(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	rs := checkers.Results{"linearizable": {Verdict: checkers.Invalid, Artifacts: []checkers.Artifact{
		{Name: "linearizable-k1.html", Key: "k1", Data: []byte("<html>k1</html>")},
		{Name: "../escape.html", Data: []byte("no")},
		{Name: "stored-before.html"}, // no data: already written by an earlier run
	}}}
	err := WriteArtifacts(dir, rs)
	if err == nil || !strings.Contains(err.Error(), `"../escape.html": not a plain file name`) {
		t.Errorf("err = %v, want the escaping name refused", err)
	}
	b, rerr := os.ReadFile(filepath.Join(dir, "linearizable-k1.html"))
	if rerr != nil || string(b) != "<html>k1</html>" {
		t.Fatalf("artifact not written: %q, %v", b, rerr)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "escape.html")); err == nil {
		t.Error("an artifact was written outside the run dir")
	}
	as := rs["linearizable"].Artifacts
	if len(as) != 2 || as[0].Name != "linearizable-k1.html" || as[0].Key != "k1" || as[0].Data != nil || as[1].Name != "stored-before.html" {
		t.Errorf("artifacts after writing: %+v", as)
	}
}

// A symlink planted under the name of a file the store writes (an
// artifact, results.json) is replaced by the file; its target, outside
// the dir, is left as it was.
func TestWritesReplaceAPlantedSymlinkAndNeverFollowIt(t *testing.T) {
	dir := t.TempDir()
	outside := filepath.Join(t.TempDir(), "precious.txt")
	if err := os.WriteFile(outside, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"linearizable-k1.html", ResultsFile} {
		if err := os.Symlink(outside, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	// A planted temp name the old code used is not followed either.
	if err := os.Symlink(outside, filepath.Join(dir, "."+ResultsFile+".tmp")); err != nil {
		t.Fatal(err)
	}
	rs := checkers.Results{"linearizable": {Verdict: checkers.Invalid, Artifacts: []checkers.Artifact{
		{Name: "linearizable-k1.html", Key: "k1", Data: []byte("<html>k1</html>")},
	}}}
	if err := WriteArtifacts(dir, rs); err != nil {
		t.Fatal(err)
	}
	if err := WriteJSON(dir, ResultsFile, map[string]string{"verdict": "valid"}); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(outside); err != nil || string(b) != "precious" {
		t.Fatalf("the symlink's target outside the dir now holds %q (%v)", b, err)
	}
	for _, name := range []string{"linearizable-k1.html", ResultsFile} {
		fi, err := os.Lstat(filepath.Join(dir, name))
		if err != nil || !fi.Mode().IsRegular() {
			t.Errorf("%s: %v, %v; want a regular file in place of the symlink", name, fi.Mode(), err)
		}
	}
	if fi, _ := os.Lstat(filepath.Join(dir, ResultsFile)); fi != nil && fi.Mode().Perm() != 0o644 {
		t.Errorf("results.json mode %v, want 0644", fi.Mode().Perm())
	}
}

// WriteJSON and CloseDurably fsync the file and (WriteJSON) the dir after
// the rename; artifacts, which check makes again, are not fsynced.
func TestDurableWritesFsyncFileAndDir(t *testing.T) {
	var synced []string
	oldFile, oldDir := syncFile, syncDir
	t.Cleanup(func() { syncFile, syncDir = oldFile, oldDir })
	syncFile = func(f *os.File) error {
		synced = append(synced, "file "+strings.SplitN(filepath.Base(f.Name()), ".tmp", 2)[0])
		return f.Sync()
	}
	syncDir = func(dir string) error {
		synced = append(synced, "dir "+filepath.Base(dir))
		return oldDir(dir)
	}
	dir := filepath.Join(t.TempDir(), "run")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteJSON(dir, ResultsFile, 1); err != nil {
		t.Fatal(err)
	}
	if len(synced) != 2 || !strings.HasPrefix(synced[0], "file ."+ResultsFile+".") || synced[1] != "dir run" {
		t.Fatalf("WriteJSON synced %q; want the temp file, then the dir after the rename", synced)
	}
	synced = nil
	h, err := os.Create(filepath.Join(dir, HistoryFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := CloseDurably(h); err != nil {
		t.Fatal(err)
	}
	if len(synced) != 1 || synced[0] != "file "+HistoryFile {
		t.Fatalf("CloseDurably synced %q; want the history", synced)
	}
	if err := h.Close(); err == nil {
		t.Error("CloseDurably left the file open")
	}
	synced = nil
	rs := checkers.Results{"l": {Artifacts: []checkers.Artifact{{Name: "a.html", Data: []byte("x")}}}}
	if err := WriteArtifacts(dir, rs); err != nil || len(synced) != 0 {
		t.Fatalf("WriteArtifacts: %v, synced %q; want no fsync", err, synced)
	}
	// A failing fsync is an error, not a silent success.
	syncFile = func(*os.File) error { return errors.New("EIO") }
	if err := WriteJSON(dir, TestFile, 1); err == nil || !strings.Contains(err.Error(), "EIO") {
		t.Fatalf("WriteJSON with a failing fsync: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, TestFile)); err == nil {
		t.Error("a file whose fsync failed was renamed into place")
	}
}

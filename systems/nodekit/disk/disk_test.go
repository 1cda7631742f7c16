package disk

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary act as a writer process that the tests
// SIGKILL: DISK_TEST_WRITER=mode:path writes "synced" and syncs, writes
// "unsynced", says "ready" on stdout and waits to be killed.
func TestMain(m *testing.M) {
	if spec := os.Getenv("DISK_TEST_WRITER"); spec != "" {
		os.Exit(writer(spec))
	}
	os.Exit(m.Run())
}

func writer(spec string) int {
	modeName, path, _ := strings.Cut(spec, ":")
	mode, err := ParseMode(modeName)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	f, err := OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644, mode)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if _, err := f.Write([]byte("synced\n")); err != nil {
		return 1
	}
	if err := f.Sync(); err != nil {
		return 1
	}
	if _, err := f.Write([]byte("unsynced\n")); err != nil {
		return 1
	}
	fmt.Println("ready")
	time.Sleep(time.Minute)
	return 0
}

// killedWriter runs the writer in mode, SIGKILLs it once it has written,
// and returns what the file holds afterwards.
func killedWriter(t *testing.T, mode string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "log")
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "DISK_TEST_WRITER="+mode+":"+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "ready\n" {
		_ = cmd.Process.Kill()
		t.Fatalf("writer did not get ready: %q, %v", line, err)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSIGKILLLosesUnsyncedWritesOnlyWhenLazy(t *testing.T) {
	if got := killedWriter(t, "lazy"); got != "synced\n" {
		t.Errorf("lazy: after SIGKILL the file holds %q, want only the synced write", got)
	}
	if got := killedWriter(t, "durable"); got != "synced\nunsynced\n" {
		t.Errorf("durable: after SIGKILL the file holds %q, want both writes (the OS had them)", got)
	}
}

func TestLazyFileShowsPendingBytesToItsOwnReadsAndOnClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	f, err := OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644, Lazy)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("abc")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); len(b) != 0 || f.Pending() != 3 {
		t.Fatalf("lazy write reached the OS before Sync: file %q, pending %d", b, f.Pending())
	}
	fi, err := f.Stat()
	if err != nil || fi.Size() != 3 {
		t.Fatalf("Stat must see pending bytes: %v, %v", fi, err)
	}
	if _, err := f.Write([]byte("def")); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "abcdef" {
		t.Fatalf("after Close the file holds %q, want abcdef", b)
	}
}

func TestParseModeNamesTheValidModes(t *testing.T) {
	if _, err := ParseMode("fast"); err == nil || !strings.Contains(err.Error(), "durable or lazy") {
		t.Fatalf("ParseMode(fast) = %v, want an error naming durable and lazy", err)
	}
}

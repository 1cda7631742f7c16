package docker

import (
	"bytes"
	"context"
	"crypto/sha256"
	"debug/buildinfo"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/docker/docker/client"
	"github.com/testcontainers/testcontainers-go"
)

// Image names: one image per faultline binary, tagged by the binary's hash.
const (
	imageRepo = "faultline"
	// mainPackage is the faultline command; a binary built from it has
	// the `node` and `toxiproxy` subcommands the containers run.
	mainPackage = "github.com/faultline/faultline/cmd/faultline"
	modulePath  = "github.com/faultline/faultline"
	// binaryInImage is where the binary sits in the image.
	binaryInImage = "/faultline"
)

// dockerfile makes the image: the static binary and nothing else, so no
// base image has to come from a registry.
const dockerfile = `FROM scratch
LABEL ` + LabelManaged + `=true
COPY faultline /faultline
ENTRYPOINT ["/faultline"]
`

// staticBinary returns a static (CGO_ENABLED=0) faultline binary for the
// containers: candidate itself when it is one (make build makes one), else
// one built from the module source found above the working directory.
func staticBinary(ctx context.Context, logger *slog.Logger, candidate string) (string, error) {
	if candidate != "" {
		if why := notStaticFaultline(candidate); why == "" {
			return candidate, nil
		} else {
			logger.Debug("building a static faultline for the containers", "because", why)
		}
	}
	root, err := moduleRoot()
	if err != nil {
		return "", fmt.Errorf("docker runtime: need a static faultline binary for the containers: %s is not one, and there is no source to build one from (%v); build faultline with CGO_ENABLED=0 (make build does)", candidate, err)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "faultline", "docker")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("docker runtime: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "faultline-*.tmp")
	if err != nil {
		return "", fmt.Errorf("docker runtime: %w", err)
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", tmp.Name(), "./cmd/faultline")
	cmd.Dir = root
	// The containers are Linux; the engine's architecture is taken to be
	// this machine's (GOARCH as the toolchain has it).
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("docker runtime: build a static faultline in %s: %w: %s", root, err, strings.TrimSpace(out.String()))
	}
	// Concurrent harnesses may build at once; each renames its own file.
	bin := filepath.Join(dir, "faultline")
	if err := os.Rename(tmp.Name(), bin); err != nil {
		return "", fmt.Errorf("docker runtime: %w", err)
	}
	return bin, nil
}

// notStaticFaultline says why path is not a static faultline binary, or ""
// when it is one.
func notStaticFaultline(path string) string {
	info, err := buildinfo.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("%s: no Go build info: %v", path, err)
	}
	if info.Path != mainPackage {
		return fmt.Sprintf("%s is %s, not %s", path, info.Path, mainPackage)
	}
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Sprintf("%s: not a Linux binary: %v", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return path + " is dynamically linked (built with cgo)"
		}
	}
	return ""
}

// moduleRoot finds faultline's module directory at or above the working
// directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && modFileIs(b, modulePath) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod of %s at or above the working directory", modulePath)
		}
		dir = parent
	}
}

func modFileIs(b []byte, module string) bool {
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "module" {
			return f[1] == module
		}
	}
	return false
}

// fileHash is the hex SHA-256 of a file.
func fileHash(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// ensureImage returns the tag of the image holding bin, building it from a
// Dockerfile context unless an image of the same binary exists.
func ensureImage(ctx context.Context, cli *testcontainers.DockerClient, logger *slog.Logger, bin string) (string, error) {
	sum, err := fileHash(bin)
	if err != nil {
		return "", fmt.Errorf("docker runtime: hash %s: %w", bin, err)
	}
	tag := sum[:20]
	ref := imageRepo + ":" + tag
	if _, err := cli.ImageInspect(ctx, ref); err == nil {
		logger.Debug("node image cached", "image", ref)
		return ref, nil
	} else if !client.IsErrNotFound(err) {
		return "", fmt.Errorf("docker runtime: inspect image %s: %w", ref, err)
	}
	dir, err := os.MkdirTemp("", "faultline-image-*")
	if err != nil {
		return "", fmt.Errorf("docker runtime: %w", err)
	}
	defer os.RemoveAll(dir)
	if err := copyFile(bin, filepath.Join(dir, "faultline")); err != nil {
		return "", fmt.Errorf("docker runtime: image context: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		return "", fmt.Errorf("docker runtime: image context: %w", err)
	}
	provider, err := testcontainers.NewDockerProvider()
	if err != nil {
		return "", fmt.Errorf("docker runtime: %w", err)
	}
	defer provider.Close()
	var buildLog bytes.Buffer
	req := &testcontainers.ContainerRequest{
		FromDockerfile: testcontainers.FromDockerfile{
			Context: dir, Repo: imageRepo, Tag: tag, KeepImage: true,
			BuildLogWriter: &buildLog,
		},
	}
	logger.Info("building node image", "image", ref, "binary", bin)
	if _, err := provider.BuildImage(ctx, req); err != nil {
		return "", fmt.Errorf("docker runtime: build image %s: %w; build log: %s", ref, err, lastLines(buildLog.String(), 10))
	}
	return ref, nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

var errNotRunning = errors.New("not running")

package docker

import (
	"bytes"
	"context"
	"crypto/sha256"
	"debug/buildinfo"
	"debug/elf"
	"encoding/hex"
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

// Image names: one image per node binary, tagged by the binary's hash.
const (
	imageRepo = "faultline"
	// nodePackage is the node-only program; a binary built from it runs a
	// node, or with `toxiproxy` the mesh's Toxiproxy server.
	nodePackage = "github.com/faultline/faultline/cmd/faultline-node"
	modulePath  = "github.com/faultline/faultline"
	// nodeBinaryName is its file name, beside the faultline binary (make
	// build puts it there) and in the image.
	nodeBinaryName    = "faultline-node"
	nodeBinaryInImage = "/" + nodeBinaryName
)

// programDir is where a foreign node program sits in the image.
const programDir = "/program"

// dockerfile makes the image: the static faultline-node binary and, for a
// foreign system, its static node program (foreign, a file name; "" for
// none), and nothing else, so no base image has to come from a registry.
func dockerfile(foreign string) string {
	s := "FROM scratch\nLABEL " + LabelManaged + "=true\nCOPY " + nodeBinaryName + " " + nodeBinaryInImage + "\n"
	if foreign != "" {
		s += "COPY " + foreign + " " + programDir + "/" + foreign + "\n"
	}
	return s + `ENTRYPOINT ["` + nodeBinaryInImage + `"]` + "\n"
}

// nodeBinary returns a static (CGO_ENABLED=0) faultline-node binary for
// the containers: candidate itself when it is one, else the one beside it
// (make build puts bin/faultline-node beside bin/faultline), else one built
// from source — the faultline module at or above the working directory,
// or the module there, which requires faultline.
func nodeBinary(ctx context.Context, logger *slog.Logger, candidate string) (string, error) {
	var why []string
	if candidate != "" {
		for _, path := range []string{candidate, filepath.Join(filepath.Dir(candidate), nodeBinaryName)} {
			reason := notStaticNode(path)
			if reason == "" {
				return path, nil
			}
			why = append(why, reason)
		}
		logger.Debug("building a static faultline-node for the containers", "because", strings.Join(why, "; "))
	}
	bin, err := buildNode(ctx)
	if err != nil {
		return "", fmt.Errorf("need a static %s binary for the containers and found none (%s): %w; build one with CGO_ENABLED=0 go build -o bin/%s %s (make build does) and put it beside the faultline binary",
			nodeBinaryName, strings.Join(why, "; "), err, nodeBinaryName, nodePackage)
	}
	return bin, nil
}

// buildNode builds faultline-node into the user's cache directory.
func buildNode(ctx context.Context) (string, error) {
	dir, pkg := "", nodePackage // the module in the working directory
	if root, err := moduleRoot(); err == nil {
		dir, pkg = root, "./cmd/"+nodeBinaryName
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	out := filepath.Join(cache, "faultline", "docker")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(out, nodeBinaryName+"-*.tmp")
	if err != nil {
		return "", err
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", tmp.Name(), pkg)
	cmd.Dir = dir
	// The containers are Linux; the engine's architecture is taken to be
	// this machine's (GOARCH as the toolchain has it).
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build %s: %w: %s", pkg, err, strings.TrimSpace(buf.String()))
	}
	// Concurrent harnesses may build at once; each renames its own file.
	bin := filepath.Join(out, nodeBinaryName)
	if err := os.Rename(tmp.Name(), bin); err != nil {
		return "", err
	}
	return bin, nil
}

// notStaticNode says why path is not a static faultline-node binary, or
// "" when it is one.
func notStaticNode(path string) string {
	info, err := buildinfo.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("%s: no Go build info: %v", path, err)
	}
	if info.Path != nodePackage {
		return fmt.Sprintf("%s is %s, not %s", path, info.Path, nodePackage)
	}
	return notStatic(path)
}

// notStatic says why path is not a static Linux executable, or "".
func notStatic(path string) string {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Sprintf("%s: not a Linux binary: %v", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return path + " is dynamically linked (a Go program built with cgo, or a C program): the image is FROM scratch and has no libc"
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

// ensureImage returns the tag of the image holding bin (faultline-node)
// and, unless empty, the foreign node program prog, building it from a
// Dockerfile context unless an image of the same binaries exists.
func ensureImage(ctx context.Context, cli *testcontainers.DockerClient, logger *slog.Logger, bin, prog string) (string, error) {
	sum, err := fileHash(bin)
	if err != nil {
		return "", fmt.Errorf("hash %s: %w", bin, err)
	}
	foreign := ""
	if prog != "" {
		foreign = filepath.Base(prog)
		psum, err := fileHash(prog)
		if err != nil {
			return "", fmt.Errorf("hash %s: %w", prog, err)
		}
		h := sha256.Sum256([]byte(sum + psum + foreign))
		sum = hex.EncodeToString(h[:])
	}
	tag := sum[:20]
	ref := imageRepo + ":" + tag
	if _, err := cli.ImageInspect(ctx, ref); err == nil {
		logger.Debug("node image cached", "image", ref)
		return ref, nil
	} else if !client.IsErrNotFound(err) {
		return "", fmt.Errorf("inspect image %s: %w", ref, err)
	}
	dir, err := os.MkdirTemp("", "faultline-image-*")
	if err != nil {
		return "", fmt.Errorf("%w", err)
	}
	defer os.RemoveAll(dir)
	if err := copyFile(bin, filepath.Join(dir, nodeBinaryName)); err != nil {
		return "", fmt.Errorf("image context: %w", err)
	}
	if foreign != "" {
		if err := copyFile(prog, filepath.Join(dir, foreign)); err != nil {
			return "", fmt.Errorf("image context: %w", err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile(foreign)), 0o644); err != nil {
		return "", fmt.Errorf("image context: %w", err)
	}
	provider, err := testcontainers.NewDockerProvider()
	if err != nil {
		return "", fmt.Errorf("%w", err)
	}
	defer provider.Close()
	var buildLog bytes.Buffer
	req := &testcontainers.ContainerRequest{
		FromDockerfile: testcontainers.FromDockerfile{
			Context: dir, Repo: imageRepo, Tag: tag, KeepImage: true,
			BuildLogWriter: &buildLog,
		},
	}
	logger.Info("building node image", "image", ref, "binary", bin, "program", prog)
	if _, err := provider.BuildImage(ctx, req); err != nil {
		return "", fmt.Errorf("build image %s: %w; build log: %s", ref, err, lastLines(buildLog.String(), 10))
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

package process

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/faultline/faultline/cluster"
	"github.com/faultline/faultline/systems"
	"github.com/faultline/faultline/systems/nodekit/admin"
)

// The test binary doubles as a fake node and as a harness that starts a
// cluster of fake nodes: TestMain picks the role from the first argument,
// which `go test` never passes.
const (
	fakeNodeArg    = "faultline-fake-node"
	fakeHarnessArg = "faultline-fake-harness"
)

// Bugs the fake node understands.
const (
	bugFailStart  = "fail-start"  // exits at once after writing 30 lines
	bugFailOnN2   = "fail-on-n2"  // like fail-start, on node 2 only
	bugNeverReady = "never-ready" // serves status ready:false forever
	// ignores stdin EOF, so only the parent-death signal can end it (or a
	// minute passing)
	bugIgnoreStdin = "ignore-stdin"
)

// fakeNode is a node that speaks the contract: the flags of
// systems.NodeConfig.Args, GET /status on the admin port, exit on stdin EOF.
// Its peer port echoes lines and counts who sent them ("from N"); its client
// port has GET /send?to=J (send "from ID" to peer J and wait for the echo)
// and GET /heard (the counts).
func fakeNode(args []string) int {
	fs := flag.NewFlagSet("fake-node", flag.ContinueOnError)
	var (
		id                                      = fs.Int("id", 0, "")
		system, peerL, clientL, adminL, dataDir string
		peerArgs, bugs                          []string
	)
	fs.StringVar(&system, "system", "", "")
	fs.StringVar(&peerL, "peer-listen", "", "")
	fs.StringVar(&clientL, "client-listen", "", "")
	fs.StringVar(&adminL, "admin-listen", "", "")
	fs.StringVar(&dataDir, "data-dir", "", "")
	fs.Func("peer", "", func(v string) error { peerArgs = append(peerArgs, v); return nil })
	fs.Func("bug", "", func(v string) error { bugs = append(bugs, v); return nil })
	if err := fs.Parse(args); err != nil {
		return 2
	}
	peers, err := systems.ParsePeers(peerArgs)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	name := systems.NodeName(*id)
	if slices.Contains(bugs, bugFailStart) || (slices.Contains(bugs, bugFailOnN2) && *id == 2) {
		for i := 1; i <= 30; i++ {
			fmt.Fprintf(os.Stderr, "%s: boom #%02d\n", name, i)
		}
		return 3
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// One line per start, so tests can see the data dir survive restarts.
	f, err := os.OpenFile(filepath.Join(dataDir, "starts"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Fprintln(f, os.Getpid())
	f.Close()

	var (
		mu    sync.Mutex
		heard = map[string]int{}
	)
	peerLn, err := net.Listen("tcp", peerL)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	go func() {
		for {
			c, err := peerLn.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					mu.Lock()
					if f := strings.Fields(line); len(f) >= 2 {
						heard[f[1]]++
					}
					mu.Unlock()
					if _, err := io.WriteString(c, line); err != nil {
						return
					}
				}
			}()
		}
	}()

	client := http.NewServeMux()
	client.HandleFunc("GET /send", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		to, _ := strconv.Atoi(q.Get("to"))
		size, _ := strconv.Atoi(q.Get("size"))
		wait := 700 * time.Millisecond
		if ms, err := strconv.Atoi(q.Get("wait_ms")); err == nil {
			wait = time.Duration(ms) * time.Millisecond
		}
		start := time.Now()
		if err := sendTo(peers[to], *id, size, wait); err != nil {
			http.Error(w, err.Error(), http.StatusGatewayTimeout)
			return
		}
		fmt.Fprint(w, time.Since(start).Milliseconds())
	})
	client.HandleFunc("GET /heard", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		json.NewEncoder(w).Encode(heard)
	})
	ready := !slices.Contains(bugs, bugNeverReady)
	for addr, h := range map[string]http.Handler{
		clientL: client,
		adminL:  admin.Handler(func() systems.Status { return systems.Status{Node: name, Ready: ready} }, nil),
	} {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		go http.Serve(ln, h)
	}
	fmt.Fprintf(os.Stderr, "%s: fake node of %s up, peers %v\n", name, system, peers)
	// The contract: stdin at EOF means the harness is gone.
	io.Copy(io.Discard, os.Stdin)
	if slices.Contains(bugs, bugIgnoreStdin) {
		time.Sleep(time.Minute)
	}
	fmt.Fprintf(os.Stderr, "%s: stdin closed, exiting\n", name)
	return 0
}

// sendTo sends "from ID" (padded with size bytes) to addr and waits up to
// wait for the echo.
func sendTo(addr string, id, size int, wait time.Duration) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(wait))
	msg := fmt.Sprintf("from %d\n", id)
	if size > 0 {
		msg = fmt.Sprintf("from %d %s\n", id, strings.Repeat("x", size))
	}
	if _, err := io.WriteString(c, msg); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != msg {
		return fmt.Errorf("echo %q, want %q", line, msg)
	}
	return nil
}

// fakeHarness starts a 3-node cluster of fake nodes in args[0] with the
// bugs args[1:], prints "pids P1 P2 P3" and waits to be killed (for at most
// a minute).
func fakeHarness(args []string) int {
	if len(args) < 1 {
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := Start(ctx, cluster.Spec{System: "fake", Nodes: 3, RunDir: args[0], Bugs: args[1:], Command: []string{os.Args[0], fakeNodeArg}})
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	var pids []string
	for _, ep := range c.Nodes() {
		pid, ok := PID(c, ep.ID)
		if !ok {
			fmt.Println("error:", errors.New("node not running"))
			return 1
		}
		pids = append(pids, strconv.Itoa(pid))
	}
	fmt.Println("pids", strings.Join(pids, " "))
	time.Sleep(time.Minute)
	return 0
}

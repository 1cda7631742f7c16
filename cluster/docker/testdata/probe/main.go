// Command probe is a foreign node program for the docker driver's tests:
// it serves, on its client address, what it was started with (arguments,
// environment, files, working dir) and whether it can reach an address.
package main

import (
	"encoding/json"
	"net"
	"net/http"
	"os"
	"time"
)

func main() {
	client, peer := os.Args[1], os.Args[2]
	go func() {
		l, err := net.Listen("tcp", peer)
		if err != nil {
			os.Exit(1)
		}
		for {
			c, err := l.Accept()
			if err == nil {
				c.Close()
			}
		}
	}()
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		wd, _ := os.Getwd()
		file, _ := os.ReadFile("conf/node.txt") // relative: the data dir
		out := map[string]any{"args": os.Args[1:], "env": os.Getenv("PROBE_NODE"), "file": string(file), "wd": wd}
		if a := r.URL.Query().Get("dial"); a != "" {
			c, err := net.DialTimeout("tcp", a, 2*time.Second)
			out["dial"] = err == nil
			if err == nil {
				c.Close()
			}
		}
		_ = json.NewEncoder(w).Encode(out)
	})
	if err := http.ListenAndServe(client, nil); err != nil {
		os.Exit(1)
	}
}

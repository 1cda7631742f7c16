package faultline_test

import (
	"context"
	"fmt"
	"time"

	"github.com/faultline/faultline"
)

// A test is data: a system with options over the CLI's defaults. Running it
// needs a node program: a binary whose main or TestMain calls
// faultline.RunNodeIfChild first.
func ExampleRun() {
	quorum, err := faultline.Builtin("quorum") // or quorum.New(), or a system of your own
	if err != nil {
		panic(err)
	}
	t := faultline.New(quorum,
		faultline.Workload("register"),
		faultline.Nemesis("slow"),
		faultline.TimeLimit(30*time.Second),
		faultline.Seed(3),
		faultline.Bugs("no-write-back"))
	res, err := faultline.Run(context.Background(), t)
	if err != nil {
		fmt.Println("no verdict:", err) // a bad test, or the cluster did not start
		return
	}
	fmt.Println(res.Verdict, res.RunDir, res.ReportPath())
	for _, a := range res.Anomalies() {
		fmt.Println(a)
	}
}

func ExampleNew() {
	raft, _ := faultline.Builtin("raft")
	t := faultline.New(raft, faultline.Nemesis("partition", "kill"), faultline.Nodes(3), faultline.Seed(7))
	fmt.Println(t.System, t.Workload, t.Nemesis, t.Nodes, t.Seed, t.TimeLimit.D())
	// Output: raft register [partition kill] 3 7 30s
}

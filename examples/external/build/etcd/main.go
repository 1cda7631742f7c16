// Command etcd is etcd's own server main (go.etcd.io/etcd/server/v3/etcdmain),
// built from the version pinned in this module's go.mod. It lives in a
// module of its own so faultline's go.mod never carries etcd's server
// dependencies; `make etcd` builds it into a static binary.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }

// The etcd server, as the release's own main package runs it (etcdmain.Main), from the
// go.etcd.io/etcd/server/v3 module at the version versions.env pins for each Kubernetes release.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }

// CoreDNS for the e2e cluster with only the plugins its Corefile uses (tools/e2e/addons.py): the
// upstream main links every plugin, the cloud DNS providers' SDKs included, which costs minutes of
// compiling on a fresh machine and a binary three times this size. The directive order stays
// upstream's (dnsserver.Directives); a directive whose plugin is not linked is simply never used.
package main

import (
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loop"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
)

func main() {
	coremain.Run()
}

// Command chartlock writes and checks a chart's Chart.lock without reaching its chart repository.
//
// `helm dependency update` writes Chart.lock only after downloading every dependency, and the KubeRay
// chart repository is not reachable from CI. The lock's content does not need the download when each
// dependency is pinned to an exact version from an https repository: the locked entry is then
// (name, repository, version) and the digest is helm's resolver.HashReq over (Chart.yaml
// dependencies, locked dependencies).
//
//	chartlock write CHART_DIR   write CHART_DIR/Chart.lock (left untouched when already in sync)
//	chartlock check CHART_DIR   fail unless CHART_DIR/Chart.lock matches Chart.yaml
//
// check asks helm itself too: downloader.Manager.Build compares the lock digest with helm's own
// (internal) resolver.HashReq before it looks for repositories, so with an empty repository config
// an in-sync lock stops at ErrRepoNotFound and a stale one at "out of sync", with no network use.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"time"

	"github.com/Masterminds/semver/v3"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/downloader"
	"helm.sh/helm/v4/pkg/provenance"
	"sigs.k8s.io/yaml"
)

func main() {
	if len(os.Args) != 3 || (os.Args[1] != "write" && os.Args[1] != "check") {
		fmt.Fprintln(os.Stderr, "usage: chartlock write|check CHART_DIR")
		os.Exit(2)
	}
	var err error
	if os.Args[1] == "write" {
		err = write(os.Args[2])
	} else {
		err = check(os.Args[2])
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "chartlock %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

// hashReq is helm's internal/resolver.HashReq (helm v4.2.4), which Go does not let us import:
// sha256 of the JSON of [requested, locked] dependencies.
func hashReq(req, lock []*chart.Dependency) (string, error) {
	data, err := json.Marshal([2][]*chart.Dependency{req, lock})
	if err != nil {
		return "", err
	}
	s, err := provenance.Digest(bytes.NewBuffer(data))
	return "sha256:" + s, err
}

// expectedLock is the lock helm's resolver writes for dependencies pinned to exact versions in
// repositories that are not in the local repository config (resolver.Resolve's URL branch).
func expectedLock(c *chart.Chart) (*chart.Lock, error) {
	req := c.Metadata.Dependencies
	if len(req) == 0 {
		return nil, errors.New("Chart.yaml has no dependencies: there is nothing to lock")
	}
	locked := make([]*chart.Dependency, 0, len(req))
	for _, d := range req {
		if _, err := semver.StrictNewVersion(d.Version); err != nil {
			return nil, fmt.Errorf("dependency %q: version %q is not an exact version (a range needs the repository index: pin it, or run `make deps` with network)", d.Name, d.Version)
		}
		if u, err := url.ParseRequestURI(d.Repository); err != nil || (u.Scheme != "https" && u.Scheme != "http") {
			return nil, fmt.Errorf("dependency %q: repository %q is not an http(s) chart repository URL", d.Name, d.Repository)
		}
		locked = append(locked, &chart.Dependency{Name: d.Name, Repository: d.Repository, Version: d.Version})
	}
	digest, err := hashReq(req, locked)
	if err != nil {
		return nil, err
	}
	return &chart.Lock{Generated: time.Now().UTC().Truncate(time.Second), Digest: digest, Dependencies: locked}, nil
}

func write(dir string) error {
	c, err := loader.LoadDir(dir)
	if err != nil {
		return err
	}
	want, err := expectedLock(c)
	if err != nil {
		return err
	}
	path := filepath.Join(dir, "Chart.lock")
	if c.Lock != nil && c.Lock.Digest == want.Digest && reflect.DeepEqual(c.Lock.Dependencies, want.Dependencies) {
		fmt.Printf("%s is already in sync (digest %s)\n", path, want.Digest)
		return nil
	}
	data, err := yaml.Marshal(want)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return err
	}
	fmt.Printf("wrote %s (digest %s)\n", path, want.Digest)
	return nil
}

func check(dir string) error {
	c, err := loader.LoadDir(dir)
	if err != nil {
		return err
	}
	path := filepath.Join(dir, "Chart.lock")
	if c.Lock == nil {
		return fmt.Errorf("%s is missing: run `make chart-lock` and commit it", path)
	}
	want, err := expectedLock(c)
	if err != nil {
		return err
	}
	if !reflect.DeepEqual(c.Lock.Dependencies, want.Dependencies) {
		got, _ := yaml.Marshal(c.Lock.Dependencies)
		exp, _ := yaml.Marshal(want.Dependencies)
		return fmt.Errorf("%s locks\n%swhile Chart.yaml asks for\n%srun `make chart-lock` and commit Chart.lock", path, got, exp)
	}
	if c.Lock.Digest != want.Digest {
		return fmt.Errorf("%s digest %s does not match Chart.yaml's dependencies (%s): run `make chart-lock` and commit Chart.lock", path, c.Lock.Digest, want.Digest)
	}

	// Cross-check with helm's own code path. An empty repository config makes Build stop right
	// after its digest comparison, before any download.
	tmp, err := os.MkdirTemp("", "chartlock-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	m := &downloader.Manager{
		Out:              io.Discard,
		ChartPath:        dir,
		SkipUpdate:       true,
		RepositoryConfig: filepath.Join(tmp, "repositories.yaml"),
		RepositoryCache:  filepath.Join(tmp, "cache"),
		ContentCache:     filepath.Join(tmp, "content"),
	}
	err = m.Build()
	var notFound downloader.ErrRepoNotFound
	if !errors.As(err, &notFound) {
		return fmt.Errorf("helm's dependency build did not accept %s: %v", path, err)
	}
	fmt.Printf("%s is in sync with Chart.yaml: %d dependencies, digest %s (helm's check agrees)\n", path, len(want.Dependencies), want.Digest)
	return nil
}

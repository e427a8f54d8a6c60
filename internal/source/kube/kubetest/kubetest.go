// Package kubetest runs a real Kubernetes API for tests: an etcd and a
// kube-apiserver on the loopback interface, built by .ci/kube-binaries.
//
// The binaries are looked for in $SHIPLOG_KUBE_BINARIES, else in
// ${XDG_CACHE_HOME:-~/.cache}/shiplog/kube/<Version>. When they are missing
// a test is skipped, unless the environment variable CI is set: there it
// fails, as CI must run these tests.
//
// Authentication is by static tokens: the user "admin" (group
// system:masters) and the user "shiplog" (group "shiplog", no permission
// until a test grants some). Authorization is RBAC.
//
// The servers' logs are printed when a test fails; with KUBETEST_KEEP set,
// their directory (logs, etcd data, certificates) is kept and named.
package kubetest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"
)

// Version is the Kubernetes version .ci/kube-binaries builds.
const Version = "v1.37.2"

// Users with a static token.
const (
	Admin   = "admin"
	Shiplog = "shiplog"
)

var tokens = map[string]string{Admin: "admin-token-for-tests", Shiplog: "shiplog-token-for-tests"}

// BinDir returns the directory holding kube-apiserver and etcd, and
// whether both are there.
func BinDir() (string, bool) {
	dir := os.Getenv("SHIPLOG_KUBE_BINARIES")
	if dir == "" {
		cache := os.Getenv("XDG_CACHE_HOME")
		if cache == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return "", false
			}
			cache = filepath.Join(home, ".cache")
		}
		dir = filepath.Join(cache, "shiplog", "kube", Version)
	}
	for _, b := range []string{"kube-apiserver", "etcd"} {
		if fi, err := os.Stat(filepath.Join(dir, b)); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return dir, false
		}
	}
	return dir, true
}

// Server is an etcd and a kube-apiserver for one test.
type Server struct {
	dir, bin string
	caPEM    []byte
	apiPort  int
	apiArgs  []string
	etcdCmd  *process
	apiCmd   *process

	mu      sync.Mutex
	stopped bool
}

// process is a started command and what it printed.
type process struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	log  string
	err  error
}

// Start starts etcd and kube-apiserver and waits until the API is ready.
// They are stopped when the test ends (the API server first, then etcd).
func Start(t testing.TB) *Server {
	t.Helper()
	bin, ok := BinDir()
	if !ok {
		msg := fmt.Sprintf("kube-apiserver and etcd not found in %s: run .ci/kube-binaries (or set SHIPLOG_KUBE_BINARIES)", bin)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	dir, err := os.MkdirTemp("", "shiplog-kubetest-")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{dir: dir, bin: bin}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			s.dumpLogs(t)
		}
		if os.Getenv("KUBETEST_KEEP") == "" {
			_ = os.RemoveAll(dir)
		} else {
			t.Logf("kubetest: kept %s", dir)
		}
	})
	if err := s.start(); err != nil {
		s.dumpLogs(t)
		t.Fatalf("kubetest: %v", err)
	}
	return s
}

func (s *Server) start() error {
	if err := s.writeFiles(); err != nil {
		return err
	}
	etcdPort, peerPort, apiPort, err := freePorts()
	if err != nil {
		return err
	}
	s.apiPort = apiPort
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", etcdPort)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", peerPort)
	s.etcdCmd, err = s.run("etcd", filepath.Join(s.bin, "etcd"),
		"--name=kubetest", "--data-dir="+filepath.Join(s.dir, "etcd"),
		"--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=kubetest="+peerURL, "--unsafe-no-fsync", "--log-level=warn")
	if err != nil {
		return err
	}
	if err := waitFor(30*time.Second, s.etcdCmd, func() error {
		resp, err := http.Get(etcdURL + "/health")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if !bytes.Contains(b, []byte(`"health":"true"`)) {
			return fmt.Errorf("etcd health: %s", b)
		}
		return nil
	}); err != nil {
		return fmt.Errorf("etcd: %w", err)
	}
	f := func(name string) string { return filepath.Join(s.dir, name) }
	s.apiArgs = []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", "--secure-port=" + strconv.Itoa(apiPort),
		"--tls-cert-file=" + f("serving.crt"), "--tls-private-key-file=" + f("serving.key"),
		"--cert-dir=" + f("certs"),
		"--token-auth-file=" + f("tokens.csv"), "--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file=" + f("sa.pub"), "--service-account-signing-key-file=" + f("sa.key"),
		"--service-cluster-ip-range=10.0.0.0/24",
		"--endpoint-reconciler-type=none",
		"--enable-priority-and-fairness=false",
		"--shutdown-watch-termination-grace-period=1s",
		"--disable-admission-plugins=ServiceAccount",
		"--v=0",
	}
	return s.startAPIServer()
}

func (s *Server) startAPIServer() error {
	var err error
	s.apiCmd, err = s.run("kube-apiserver", filepath.Join(s.bin, "kube-apiserver"), s.apiArgs...)
	if err != nil {
		return err
	}
	return s.waitReady(90 * time.Second)
}

// waitReady waits until /readyz answers ok.
func (s *Server) waitReady(timeout time.Duration) error {
	rc := s.Config(Admin)
	tr, err := rest.TransportFor(rc)
	if err != nil {
		return err
	}
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	err = waitFor(timeout, s.apiCmd, func() error {
		resp, err := client.Get(rc.Host + "/readyz")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("readyz: %d %s", resp.StatusCode, b)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("kube-apiserver: %w", err)
	}
	return nil
}

// StopAPIServer stops the API server, keeping etcd: watches break.
func (s *Server) StopAPIServer(t testing.TB) {
	t.Helper()
	s.apiCmd.stop()
}

// StartAPIServer starts the API server again, on the same port and etcd,
// and waits until it is ready.
func (s *Server) StartAPIServer(t testing.TB) {
	t.Helper()
	if err := s.startAPIServer(); err != nil {
		t.Fatalf("kubetest: restart: %v", err)
	}
}

// Stop stops the API server, then etcd. It is safe to call twice.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	s.stopped = true
	if s.apiCmd != nil {
		s.apiCmd.stop()
	}
	if s.etcdCmd != nil {
		s.etcdCmd.stop()
	}
}

// Config returns a client configuration for user (Admin or Shiplog).
func (s *Server) Config(user string) *rest.Config {
	return &rest.Config{
		Host:            fmt.Sprintf("https://127.0.0.1:%d", s.apiPort),
		BearerToken:     tokens[user],
		TLSClientConfig: rest.TLSClientConfig{CAData: s.caPEM},
		QPS:             100,
		Burst:           200,
	}
}

// Kubeconfig writes a kubeconfig file for user, with one context named
// "kubetest", and returns its path.
func (s *Server) Kubeconfig(t testing.TB, user string) string {
	t.Helper()
	rc := s.Config(user)
	cfg := map[string]any{
		"apiVersion": "v1", "kind": "Config", "current-context": "kubetest",
		"clusters": []any{map[string]any{"name": "kubetest", "cluster": map[string]any{
			"server": rc.Host, "certificate-authority-data": rc.CAData}}},
		"users":    []any{map[string]any{"name": user, "user": map[string]any{"token": rc.BearerToken}}},
		"contexts": []any{map[string]any{"name": "kubetest", "context": map[string]any{"cluster": "kubetest", "user": user}}},
	}
	b, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Dynamic returns a dynamic client for the admin.
func (s *Server) Dynamic(t testing.TB) dynamic.Interface {
	t.Helper()
	d, err := dynamic.NewForConfig(s.Config(Admin))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// Namespaces creates namespaces, as the admin.
func (s *Server) Namespaces(t testing.TB, names ...string) {
	t.Helper()
	ri := s.Dynamic(t).Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"})
	for _, n := range names {
		ns := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": n}}}
		if _, err := ri.Create(context.Background(), ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("kubetest: create namespace %s: %v", n, err)
		}
	}
}

// Apply creates, as the admin, every object of the YAML files (several
// documents each); CustomResourceDefinitions are waited for until the API
// serves their resources.
func (s *Server) Apply(t testing.TB, files ...string) {
	t.Helper()
	var objs []*unstructured.Unstructured
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		o, err := decodeYAML(b)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		objs = append(objs, o...)
	}
	if err := s.create(objs); err != nil {
		t.Fatalf("kubetest: apply %s: %v", strings.Join(files, ", "), err)
	}
}

func decodeYAML(b []byte) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, doc := range strings.Split("\n"+string(b), "\n---") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		j, err := yaml.YAMLToJSON([]byte(doc))
		if err != nil {
			return nil, err
		}
		if string(j) == "null" {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(j); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}

func (s *Server) create(objs []*unstructured.Unstructured) error {
	rc := s.Config(Admin)
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return err
	}
	disco, err := discovery.NewDiscoveryClientForConfig(rc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	groups, err := restmapper.GetAPIGroupResources(disco)
	if err != nil {
		return err
	}
	mapper := restmapper.NewDiscoveryRESTMapper(groups)
	var crds []*unstructured.Unstructured
	for _, o := range objs {
		gvk := o.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			return fmt.Errorf("%s %s: %w", gvk, o.GetName(), err)
		}
		var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
		if m.Scope.Name() == "namespace" {
			ns := o.GetNamespace()
			if ns == "" {
				ns = "default"
			}
			ri = dyn.Resource(m.Resource).Namespace(ns)
		}
		if _, err := ri.Create(ctx, o, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create %s %s: %w", gvk.Kind, o.GetName(), err)
		}
		if gvk.Kind == "CustomResourceDefinition" {
			crds = append(crds, o)
		}
	}
	for _, crd := range crds {
		group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
		plural, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "plural")
		versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
		for _, v := range versions {
			name, _, _ := unstructured.NestedString(v.(map[string]any), "name")
			gv := schema.GroupVersion{Group: group, Version: name}.String()
			err := waitFor(30*time.Second, nil, func() error {
				l, err := disco.ServerResourcesForGroupVersion(gv)
				if err != nil {
					return err
				}
				for _, r := range l.APIResources {
					if r.Name == plural {
						return nil
					}
				}
				return fmt.Errorf("%s not served in %s yet", plural, gv)
			})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// writeFiles writes the serving certificate, the service-account keys and
// the token file.
func (s *Server) writeFiles() error {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kubetest-ca"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "kube-apiserver"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	pemOf := func(typ string, der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}) }
	srvKeyDER, err := x509.MarshalECPrivateKey(srvKey)
	if err != nil {
		return err
	}
	saKeyDER, err := x509.MarshalECPrivateKey(saKey)
	if err != nil {
		return err
	}
	saPubDER, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return err
	}
	s.caPEM = pemOf("CERTIFICATE", caDER)
	var tok strings.Builder
	fmt.Fprintf(&tok, "%s,%s,%s,\"system:masters\"\n", tokens[Admin], Admin, "uid-admin")
	fmt.Fprintf(&tok, "%s,%s,%s,\"shiplog\"\n", tokens[Shiplog], Shiplog, "uid-shiplog")
	files := map[string][]byte{
		"serving.crt": append(pemOf("CERTIFICATE", srvDER), s.caPEM...),
		"serving.key": pemOf("EC PRIVATE KEY", srvKeyDER),
		"sa.key":      pemOf("EC PRIVATE KEY", saKeyDER),
		"sa.pub":      pemOf("PUBLIC KEY", saPubDER),
		"tokens.csv":  []byte(tok.String()),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(s.dir, name), b, 0o600); err != nil {
			return err
		}
	}
	return os.MkdirAll(filepath.Join(s.dir, "certs"), 0o700)
}

// freePorts returns three free loopback ports.
func freePorts() (int, int, int, error) {
	var ports [3]int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, 0, 0, err
		}
		ls = append(ls, l)
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports[0], ports[1], ports[2], nil
}

// run starts a command whose output goes to a log file in the test's
// directory; it is killed if the test process dies.
func (s *Server) run(name, path string, args ...string) (*process, error) {
	log := filepath.Join(s.dir, name+".log")
	f, err := os.OpenFile(log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, done: make(chan struct{}), log: log}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

// stop sends SIGTERM, then SIGKILL after 15 s, and waits for the exit.
func (p *process) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// waitFor polls check until it succeeds, the process exits, or the time is up.
func waitFor(timeout time.Duration, p *process, check func() error) error {
	deadline := time.Now().Add(timeout)
	var err error
	for {
		if err = check(); err == nil {
			return nil
		}
		if p != nil {
			select {
			case <-p.done:
				return fmt.Errorf("%s exited: %v (log: %s)", p.name, p.err, p.log)
			default:
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %s: %w", timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// dumpLogs prints the end of the servers' logs into the test log.
func (s *Server) dumpLogs(t testing.TB) {
	for _, name := range []string{"etcd", "kube-apiserver"} {
		b, err := os.ReadFile(filepath.Join(s.dir, name+".log"))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if len(b) > 8000 {
			b = b[len(b)-8000:]
		}
		t.Logf("--- %s log (end) ---\n%s", name, b)
	}
}

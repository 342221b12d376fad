package clientconf_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"

	"github.com/streams-dev/streams/io/kafka/clientconf"
)

// topic is seeded, with one partition, in every cluster these tests start.
const topic = "clientconf-test"

// startCluster starts a one-broker kfake cluster with topic created and
// returns its address. The cluster is closed when the test ends.
func startCluster(t *testing.T, opts ...kfake.Opt) string {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(1, topic)}, opts...)...)
	if err != nil {
		t.Fatalf("kfake.NewCluster: %v", err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

// pingAndProduce builds a client from the config's options, pings the
// cluster and produces one record. The config must be valid: Options
// failing fails the test; what the broker says is returned.
func pingAndProduce(t *testing.T, cfg clientconf.Config) error {
	t.Helper()
	opts, err := cfg.Options()
	if err != nil {
		t.Fatalf("Options: %v", err)
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	if err := cl.Ping(ctx); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	r := &kgo.Record{Topic: topic, Value: []byte("hello")}
	if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return nil
}

// mustFail asserts that err is a failure that happened before the
// deadline (a refusal, not a hang).
func mustFail(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("connected, want a failure (%s)", want)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("timed out (%v), want a prompt failure (%s)", err, want)
	}
	t.Logf("failed as expected (%s): %v", want, err)
}

func TestSASLPlaintext(t *testing.T) {
	for _, tc := range []struct {
		name      string
		mechanism string // what the broker knows the user by
		props     map[string]string
	}{
		{"PLAIN", "PLAIN", map[string]string{"sasl.mechanism": "PLAIN"}},
		{"PLAIN is the default", "PLAIN", nil},
		{"SCRAM-SHA-256", "SCRAM-SHA-256", map[string]string{"sasl.mechanism": "SCRAM-SHA-256"}},
		{"SCRAM-SHA-512 via sasl.mechanisms in lower case", "SCRAM-SHA-512", map[string]string{"sasl.mechanisms": "scram-sha-512"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr := startCluster(t, kfake.EnableSASL(), kfake.Superuser(tc.mechanism, "alice", "s3cret"))
			props := func(pass string) map[string]string {
				p := map[string]string{
					"security.protocol": "sasl_plaintext",
					"sasl.username":     "alice",
					"sasl.password":     pass,
				}
				for k, v := range tc.props {
					p[k] = v
				}
				return p
			}
			if err := pingAndProduce(t, clientconf.Config{Brokers: []string{addr}, Properties: props("s3cret")}); err != nil {
				t.Fatalf("right password: %v", err)
			}
			mustFail(t, pingAndProduce(t, clientconf.Config{Brokers: []string{addr}, Properties: props("wrong")}), "wrong password")
			mustFail(t, pingAndProduce(t, clientconf.Config{Brokers: []string{addr}}), "no SASL against a SASL broker")
		})
	}

	t.Run("mechanism the broker does not know the user by", func(t *testing.T) {
		t.Parallel()
		addr := startCluster(t, kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "alice", "s3cret"))
		mustFail(t, pingAndProduce(t, clientconf.Config{Brokers: []string{addr}, Properties: map[string]string{
			"security.protocol": "SASL_PLAINTEXT",
			"sasl.mechanism":    "SCRAM-SHA-512",
			"sasl.username":     "alice",
			"sasl.password":     "s3cret",
		}}), "SCRAM-SHA-512 against a SCRAM-SHA-256 user")
	})
}

// testPKI is a throwaway certificate authority with the PEM files the
// ssl.* properties point at.
type testPKI struct {
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	caPool *x509.CertPool
	caFile string // PEM of the CA certificate
	dir    string
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "clientconf test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	p := &testPKI{ca: ca, caKey: key, caPool: x509.NewCertPool(), dir: t.TempDir()}
	p.caPool.AddCert(ca)
	p.caFile = p.write(t, "ca.pem", &pem.Block{Type: "CERTIFICATE", Bytes: der})
	return p
}

func (p *testPKI) write(t *testing.T, name string, blocks ...*pem.Block) string {
	t.Helper()
	var b []byte
	for _, blk := range blocks {
		b = append(b, pem.EncodeToMemory(blk)...)
	}
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// issue signs a leaf certificate for the given IP addresses and DNS
// names, for server or client use, and writes it and its key as
// name.pem and name-key.pem.
func (p *testPKI) issue(t *testing.T, name string, usage x509.ExtKeyUsage, ips []net.IP, dns ...string) (cert tls.Certificate, certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		IPAddresses:  ips,
		DNSNames:     dns,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile = p.write(t, name+".pem", &pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyFile = p.write(t, name+"-key.pem", &pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, certFile, keyFile
}

var localhost = []net.IP{net.IPv4(127, 0, 0, 1)}

func TestTLS(t *testing.T) {
	pki := newTestPKI(t)
	serverCert, _, _ := pki.issue(t, "broker", x509.ExtKeyUsageServerAuth, localhost)
	// otherHost's certificate is signed by our CA but names another host,
	// so only a client that skips the host name check accepts it.
	otherHost, _, _ := pki.issue(t, "elsewhere", x509.ExtKeyUsageServerAuth, nil, "broker.elsewhere.example")
	_, clientCert, clientKey := pki.issue(t, "client", x509.ExtKeyUsageClientAuth, nil)
	_, strangerCert, strangerKey := newTestPKI(t).issue(t, "stranger", x509.ExtKeyUsageClientAuth, nil)

	serverTLS := &tls.Config{Certificates: []tls.Certificate{serverCert}}
	ssl := func(props ...string) map[string]string {
		m := map[string]string{"security.protocol": "SSL"}
		for i := 0; i < len(props); i += 2 {
			m[props[i]] = props[i+1]
		}
		return m
	}

	t.Run("SSL", func(t *testing.T) {
		t.Parallel()
		addr := startCluster(t, kfake.TLS(serverTLS))
		connect := func(props map[string]string) error {
			return pingAndProduce(t, clientconf.Config{Brokers: []string{addr}, Properties: props})
		}
		if err := connect(ssl("ssl.ca.location", pki.caFile)); err != nil {
			t.Errorf("with ssl.ca.location: %v", err)
		}
		err := connect(ssl())
		mustFail(t, err, "broker certificate from an unknown CA")
		if !errors.As(err, new(x509.UnknownAuthorityError)) {
			t.Errorf("without the CA: %v, want an x509.UnknownAuthorityError", err)
		}
		if err := connect(ssl("enable.ssl.certificate.verification", "false")); err != nil {
			t.Errorf("with enable.ssl.certificate.verification=false: %v", err)
		}
		if err := connect(ssl("ssl.ca.location", pki.caFile, "ssl.endpoint.identification.algorithm", "https")); err != nil {
			t.Errorf("with the host name check: %v", err)
		}
		mustFail(t, connect(map[string]string{"security.protocol": "PLAINTEXT"}), "plaintext against a TLS broker")
	})

	t.Run("host name check", func(t *testing.T) {
		t.Parallel()
		addr := startCluster(t, kfake.TLS(&tls.Config{Certificates: []tls.Certificate{otherHost}}))
		connect := func(props map[string]string) error {
			return pingAndProduce(t, clientconf.Config{Brokers: []string{addr}, Properties: props})
		}
		err := connect(ssl("ssl.ca.location", pki.caFile))
		mustFail(t, err, "certificate for another host")
		if !errors.As(err, new(x509.HostnameError)) {
			t.Errorf("certificate for another host: %v, want an x509.HostnameError", err)
		}
		if err := connect(ssl("ssl.ca.location", pki.caFile, "ssl.endpoint.identification.algorithm", "none")); err != nil {
			t.Errorf("with ssl.endpoint.identification.algorithm=none: %v", err)
		}
		// Skipping the host name check still checks the chain.
		err = connect(ssl("ssl.endpoint.identification.algorithm", "none"))
		mustFail(t, err, "no host name check, but a certificate from an unknown CA")
		if !errors.As(err, new(x509.UnknownAuthorityError)) {
			t.Errorf("no host name check, unknown CA: %v, want an x509.UnknownAuthorityError", err)
		}
	})

	t.Run("mutual TLS", func(t *testing.T) {
		t.Parallel()
		addr := startCluster(t, kfake.TLS(&tls.Config{
			Certificates: []tls.Certificate{serverCert},
			ClientAuth:   tls.RequireAndVerifyClientCert,
			ClientCAs:    pki.caPool,
		}))
		connect := func(props map[string]string) error {
			return pingAndProduce(t, clientconf.Config{Brokers: []string{addr}, Properties: props})
		}
		if err := connect(ssl("ssl.ca.location", pki.caFile, "ssl.certificate.location", clientCert, "ssl.key.location", clientKey)); err != nil {
			t.Errorf("with a client certificate: %v", err)
		}
		mustFail(t, connect(ssl("ssl.ca.location", pki.caFile)), "no client certificate")
		mustFail(t, connect(ssl("ssl.ca.location", pki.caFile, "ssl.certificate.location", strangerCert, "ssl.key.location", strangerKey)),
			"client certificate from another CA")
	})

	t.Run("SASL_SSL", func(t *testing.T) {
		t.Parallel()
		addr := startCluster(t, kfake.TLS(serverTLS), kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "bob", "hunter2"))
		connect := func(pass, ca string) error {
			return pingAndProduce(t, clientconf.Config{Brokers: []string{addr}, Properties: map[string]string{
				"security.protocol": "SASL_SSL",
				"sasl.mechanism":    "SCRAM-SHA-512",
				"sasl.username":     "bob",
				"sasl.password":     pass,
				"ssl.ca.location":   ca,
			}})
		}
		if err := connect("hunter2", pki.caFile); err != nil {
			t.Errorf("SASL_SSL: %v", err)
		}
		mustFail(t, connect("wrong", pki.caFile), "wrong password over TLS")
		err := connect("hunter2", newTestPKI(t).caFile)
		mustFail(t, err, "right password, broker certificate from another CA")
		if !errors.As(err, new(x509.UnknownAuthorityError)) {
			t.Errorf("another CA: %v, want an x509.UnknownAuthorityError", err)
		}
	})
}

// TestProducerProperties produces with each compression codec and acks
// level and reads the records back, so the producer properties are known
// to give a client the broker works with.
func TestProducerProperties(t *testing.T) {
	cases := []struct{ codec, acks string }{
		{"none", "0"},
		{"gzip", "1"},
		{"snappy", "all"},
		{"lz4", "-1"},
		{"zstd", "1"},
	}
	var topics []string
	for _, tc := range cases {
		topics = append(topics, "produce-"+tc.codec)
	}
	addr := startCluster(t, kfake.SeedTopics(1, topics...))
	for _, tc := range cases {
		t.Run(tc.codec+"/acks="+tc.acks, func(t *testing.T) {
			t.Parallel()
			topic := "produce-" + tc.codec
			produce := clientconf.Config{Brokers: []string{addr}, Properties: map[string]string{
				"client.id":        "clientconf-test",
				"compression.type": tc.codec,
				"acks":             tc.acks,
				"linger.ms":        "5",
				"batch.size":       "65536",
			}}
			opts, err := produce.Options()
			if err != nil {
				t.Fatal(err)
			}
			cl, err := kgo.NewClient(opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
			defer cancel()
			const n = 20
			want := make([]string, n)
			for j := range n {
				want[j] = fmt.Sprintf("%s-%d-%s", tc.codec, j, strings.Repeat("x", 100))
				cl.Produce(ctx, &kgo.Record{Topic: topic, Value: []byte(want[j])}, func(_ *kgo.Record, err error) {
					if err != nil {
						t.Errorf("produce: %v", err)
					}
				})
			}
			if err := cl.Flush(ctx); err != nil {
				t.Fatal(err)
			}

			consume := clientconf.Config{Brokers: []string{addr}, Properties: map[string]string{
				"isolation.level":   "read_committed",
				"fetch.wait.max.ms": "50",
				"fetch.min.bytes":   "1",
			}}
			opts, err = consume.Options()
			if err != nil {
				t.Fatal(err)
			}
			cons, err := kgo.NewClient(append(opts, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
			if err != nil {
				t.Fatal(err)
			}
			defer cons.Close()
			var got []string
			for len(got) < n && ctx.Err() == nil {
				fs := cons.PollFetches(ctx)
				fs.EachError(func(_ string, _ int32, err error) {
					if !errors.Is(err, context.DeadlineExceeded) {
						t.Errorf("fetch: %v", err)
					}
				})
				fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
			}
			if !slices.Equal(got, want) {
				t.Errorf("read back %d records %q, want %d %q", len(got), got, n, want)
			}
		})
	}
}

// TestOptionsReportsEveryProblem: one call reports all the mistakes of a
// config, each saying what is wrong.
func TestOptionsReportsEveryProblem(t *testing.T) {
	_, err := clientconf.Config{
		Properties: map[string]string{
			"sasl.usernme":    "alice",    // typo
			"linger.ms":       "a while",  // bad value
			"sasl.password":   "s3cret",   // sasl.* without a SASL protocol
			"ssl.ca.location": "/some/ca", // ssl.* without an SSL protocol
		},
	}.Options()
	if err == nil {
		t.Fatal("Options accepted a broken config")
	}
	want := []string{
		"clientconf: no brokers configured",
		`clientconf: unknown client property "sasl.usernme" (did you mean "sasl.username"?)`,
		`clientconf: property linger.ms: want a number of milliseconds between 0 and 2147483647, got "a while"`,
		"clientconf: sasl.* properties need security.protocol SASL_PLAINTEXT or SASL_SSL, not PLAINTEXT",
		"clientconf: ssl.* properties need security.protocol SSL or SASL_SSL, not PLAINTEXT",
	}
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) {
		t.Fatalf("Options error %q is not a joined error", err)
	}
	var got []string
	for _, e := range joined.Unwrap() {
		got = append(got, e.Error())
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("Options errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestOptionsErrors lists configs Options refuses, and why.
func TestOptionsErrors(t *testing.T) {
	pki := newTestPKI(t)
	notPEM := pki.write(t, "not.pem")
	_, certFile, _ := pki.issue(t, "client", x509.ExtKeyUsageClientAuth, nil)
	_, _, otherKey := pki.issue(t, "other", x509.ExtKeyUsageClientAuth, nil)
	for _, tc := range []struct {
		name    string
		brokers []string // 127.0.0.1:9092 when nil
		props   map[string]string
		want    string
	}{
		{"unknown key far from any", nil, map[string]string{"bootstrap.servers": "x:9092"},
			`unknown client property "bootstrap.servers" (see clientconf.Properties for the accepted keys)`},
		{"bad protocol", nil, map[string]string{"security.protocol": "TLS"},
			`property security.protocol: want PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL, got "TLS"`},
		{"SASL without a user", nil, map[string]string{"security.protocol": "SASL_PLAINTEXT", "sasl.password": "p"},
			"sasl.mechanism PLAIN needs sasl.username and sasl.password"},
		{"bad mechanism", nil, map[string]string{"security.protocol": "SASL_SSL", "sasl.mechanism": "OAUTHBEARER", "sasl.username": "u", "sasl.password": "p"},
			`property sasl.mechanism: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, got "OAUTHBEARER"`},
		{"missing CA file", nil, map[string]string{"security.protocol": "SSL", "ssl.ca.location": filepath.Join(pki.dir, "nope.pem")},
			"ssl.ca.location: open "},
		{"CA file without certificates", nil, map[string]string{"security.protocol": "SSL", "ssl.ca.location": notPEM},
			"ssl.ca.location: no PEM certificates in "},
		{"certificate without key", nil, map[string]string{"security.protocol": "SSL", "ssl.certificate.location": certFile},
			"ssl.certificate.location and ssl.key.location go together"},
		{"certificate with the wrong key", nil, map[string]string{"security.protocol": "SSL", "ssl.certificate.location": certFile, "ssl.key.location": otherKey},
			"client certificate: tls: private key does not match public key"},
		{"idempotence without acks=all", nil, map[string]string{"enable.idempotence": "true", "acks": "1"},
			"enable.idempotence=true needs acks=all, not 1"},
		{"heartbeat longer than the session", nil, map[string]string{"session.timeout.ms": "10000", "heartbeat.interval.ms": "20000"},
			"heartbeat interval 20s is erroneously larger than the session timeout 10s"},
		{"bad seed broker", []string{"broker:notaport"}, nil, "clientconf: brokers: unable to parse port from addr"},
		{"empty seed broker", []string{"127.0.0.1:9092", " "}, nil, "clientconf: brokers: empty address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			brokers := tc.brokers
			if brokers == nil {
				brokers = []string{"127.0.0.1:9092"}
			}
			_, err := clientconf.Config{Brokers: brokers, Properties: tc.props}.Options()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Options: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// validValue is a valid value of a property and how to tell, from the kgo
// client built with it, that the property took effect.
type validValue struct {
	value string
	// context holds the other properties the key needs (ssl.* needs an
	// SSL protocol, sasl.* a SASL one).
	context map[string]string
	opt     any // a kgo option function, for cl.OptValue
	want    any // what cl.OptValue(opt) must return
	check   func(t *testing.T, cl *kgo.Client)
}

// validValues has a row for every accepted property, so a new property
// without one fails TestEveryProperty.
func validValues(t *testing.T) map[string]validValue {
	pki := newTestPKI(t)
	_, certFile, keyFile := pki.issue(t, "client", x509.ExtKeyUsageClientAuth, nil)
	sslCtx := map[string]string{"security.protocol": "SSL"}
	saslCtx := map[string]string{"security.protocol": "SASL_PLAINTEXT", "sasl.username": "u", "sasl.password": "p"}
	tlsConfig := func(check func(*tls.Config) bool) func(*testing.T, *kgo.Client) {
		return func(t *testing.T, cl *kgo.Client) {
			c, _ := cl.OptValue(kgo.DialTLSConfig).(*tls.Config)
			if c == nil || !check(c) {
				t.Errorf("TLS config %+v is not what the property asks", c)
			}
		}
	}
	mechanism := func(name string) func(*testing.T, *kgo.Client) {
		return func(t *testing.T, cl *kgo.Client) {
			ms, _ := cl.OptValue(kgo.SASL).([]sasl.Mechanism)
			if len(ms) != 1 || ms[0].Name() != name {
				t.Errorf("SASL mechanisms %v, want one, %s", ms, name)
			}
		}
	}
	ms := time.Millisecond
	return map[string]validValue{
		"security.protocol": {value: "SSL", check: tlsConfig(func(c *tls.Config) bool {
			return c.RootCAs == nil && !c.InsecureSkipVerify && c.MinVersion == tls.VersionTLS12
		})},
		"sasl.mechanism":  {value: "SCRAM-SHA-256", context: saslCtx, check: mechanism("SCRAM-SHA-256")},
		"sasl.mechanisms": {value: "SCRAM-SHA-512", context: saslCtx, check: mechanism("SCRAM-SHA-512")},
		"sasl.username": {value: "alice", context: map[string]string{"security.protocol": "SASL_SSL", "sasl.password": "p"},
			check: mechanism("PLAIN")},
		"sasl.password": {value: "p", context: map[string]string{"security.protocol": "SASL_SSL", "sasl.username": "alice"},
			check: mechanism("PLAIN")},
		"ssl.ca.location": {value: pki.caFile, context: sslCtx, check: tlsConfig(func(c *tls.Config) bool {
			return c.RootCAs != nil && c.RootCAs.Equal(pki.caPool)
		})},
		"ssl.certificate.location": {value: certFile, context: map[string]string{"security.protocol": "SSL", "ssl.key.location": keyFile},
			check: tlsConfig(func(c *tls.Config) bool { return len(c.Certificates) == 1 })},
		"ssl.key.location": {value: keyFile, context: map[string]string{"security.protocol": "SASL_SSL", "ssl.certificate.location": certFile, "sasl.username": "u", "sasl.password": "p"},
			check: tlsConfig(func(c *tls.Config) bool { return len(c.Certificates) == 1 })},
		"enable.ssl.certificate.verification": {value: "false", context: sslCtx, check: tlsConfig(func(c *tls.Config) bool {
			return c.InsecureSkipVerify && c.VerifyConnection == nil
		})},
		"ssl.endpoint.identification.algorithm": {value: "none", context: sslCtx, check: tlsConfig(func(c *tls.Config) bool {
			return c.InsecureSkipVerify && c.VerifyConnection != nil
		})},
		"client.id":                          {value: "svc", opt: kgo.ClientID, want: "svc"},
		"request.timeout.ms":                 {value: "15000", opt: kgo.RequestTimeoutOverhead, want: 15 * time.Second},
		"socket.connection.setup.timeout.ms": {value: "3000", opt: kgo.DialTimeout, want: 3 * time.Second},
		"connections.max.idle.ms":            {value: "60000", opt: kgo.ConnIdleTimeout, want: time.Minute},
		"metadata.max.age.ms":                {value: "120000", opt: kgo.MetadataMaxAge, want: 2 * time.Minute},
		"retry.backoff.ms": {value: "250", check: func(t *testing.T, cl *kgo.Client) {
			fn, _ := cl.OptValue(kgo.RetryBackoffFn).(func(int) time.Duration)
			if fn == nil || fn(1) != 250*ms || fn(7) != 250*ms {
				t.Errorf("retry backoff is not a constant 250ms")
			}
		}},
		"session.timeout.ms":           {value: "30000", opt: kgo.SessionTimeout, want: 30 * time.Second},
		"heartbeat.interval.ms":        {value: "1000", opt: kgo.HeartbeatInterval, want: time.Second},
		"max.poll.interval.ms":         {value: "120000", opt: kgo.RebalanceTimeout, want: 2 * time.Minute},
		"fetch.wait.max.ms":            {value: "250", opt: kgo.FetchMaxWait, want: 250 * ms},
		"fetch.max.bytes":              {value: "1048576", opt: kgo.FetchMaxBytes, want: int32(1 << 20)},
		"fetch.min.bytes":              {value: "10", opt: kgo.FetchMinBytes, want: int32(10)},
		"max.partition.fetch.bytes":    {value: "65536", opt: kgo.FetchMaxPartitionBytes, want: int32(65536)},
		"group.instance.id":            {value: "replica-1", opt: kgo.InstanceID, want: "replica-1"},
		"isolation.level":              {value: "read_committed", opt: kgo.FetchIsolationLevel, want: int8(1)},
		"linger.ms":                    {value: "5", opt: kgo.ProducerLinger, want: 5 * ms},
		"queue.buffering.max.ms":       {value: "7", opt: kgo.ProducerLinger, want: 7 * ms},
		"message.timeout.ms":           {value: "30000", opt: kgo.RecordDeliveryTimeout, want: 30 * time.Second},
		"delivery.timeout.ms":          {value: "40000", opt: kgo.RecordDeliveryTimeout, want: 40 * time.Second},
		"queue.buffering.max.messages": {value: "5000", opt: kgo.MaxBufferedRecords, want: int64(5000)},
		"batch.size":                   {value: "65536", opt: kgo.ProducerBatchMaxBytes, want: int32(65536)},
		"message.max.bytes":            {value: "32768", opt: kgo.ProducerBatchMaxBytes, want: int32(32768)},
		"transaction.timeout.ms":       {value: "20000", opt: kgo.TransactionTimeout, want: 20 * time.Second},
		"retries":                      {value: "3", opt: kgo.RecordRetries, want: int64(3)},
		"message.send.max.retries":     {value: "0", opt: kgo.RecordRetries, want: int64(0)},
		"compression.type":             {value: "zstd", opt: kgo.ProducerBatchCompression, want: []kgo.CompressionCodec{kgo.ZstdCompression()}},
		"compression.codec":            {value: "LZ4", opt: kgo.ProducerBatchCompression, want: []kgo.CompressionCodec{kgo.Lz4Compression()}},
		"acks": {value: "1", opt: kgo.RequiredAcks, want: kgo.LeaderAck(), check: func(t *testing.T, cl *kgo.Client) {
			if cl.OptValue(kgo.DisableIdempotentWrite) != true {
				t.Error("acks=1 leaves idempotent writes on, which kgo refuses")
			}
		}},
		"enable.idempotence": {value: "false", opt: kgo.DisableIdempotentWrite, want: true},
	}
}

// TestEveryProperty: every key Properties lists is documented, accepted by
// CheckProperty with a valid value, and builds a client whose options say
// what the property asks.
func TestEveryProperty(t *testing.T) {
	values := validValues(t)
	listed := map[string]bool{}
	props := clientconf.Properties()
	for i, p := range props {
		key, doc := p[0], p[1]
		listed[key] = true
		if i > 0 && props[i-1][0] >= key {
			t.Errorf("Properties is not sorted: %q before %q", props[i-1][0], key)
		}
		if doc == "" {
			t.Errorf("property %s has no documentation", key)
		}
		v, ok := values[key]
		if !ok {
			t.Errorf("property %s has no row in validValues: add one", key)
			continue
		}
		t.Run(key, func(t *testing.T) {
			if err := clientconf.CheckProperty(key, v.value); err != nil {
				t.Fatalf("CheckProperty(%q, %q): %v", key, v.value, err)
			}
			all := map[string]string{key: v.value}
			for k, cv := range v.context {
				all[k] = cv
			}
			opts, err := clientconf.Config{Brokers: []string{"127.0.0.1:9092"}, Properties: all}.Options()
			if err != nil {
				t.Fatalf("Options(%v): %v", all, err)
			}
			cl, err := kgo.NewClient(opts...)
			if err != nil {
				t.Fatalf("kgo.NewClient: %v", err)
			}
			defer cl.Close()
			if v.opt != nil {
				if got := cl.OptValue(v.opt); !reflect.DeepEqual(got, v.want) {
					t.Errorf("%s=%s: client option is %#v, want %#v", key, v.value, got, v.want)
				}
			}
			if v.check != nil {
				v.check(t, cl)
			}
		})
	}
	for key := range values {
		if !listed[key] {
			t.Errorf("validValues has %s, which Properties does not list", key)
		}
	}
}

// TestCheckPropertyRejects: unknown keys and bad values, including values
// of the right shape that franz-go would refuse when the client is built.
func TestCheckPropertyRejects(t *testing.T) {
	for _, tc := range []struct{ key, value, want string }{
		{"sasl.usernme", "alice", `clientconf: unknown client property "sasl.usernme" (did you mean "sasl.username"?)`},
		{"lingr.ms", "5", `(did you mean "linger.ms"?)`},
		{"no.such.thing.at.all", "1", `unknown client property "no.such.thing.at.all" (see clientconf.Properties for the accepted keys)`},
		{"Client.Id", "x", `(did you mean "client.id"?)`},
		{"security.protocol", "SASL", "clientconf: property security.protocol: want PLAINTEXT"},
		{"sasl.mechanism", "GSSAPI", "want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"},
		{"enable.ssl.certificate.verification", "maybe", "want true or false"},
		{"ssl.endpoint.identification.algorithm", "http", "want https or none"},
		{"linger.ms", "-1", "want a number of milliseconds between 0 and 2147483647"},
		{"linger.ms", "1.5", "want a number of milliseconds"},
		{"linger.ms", "120000", "linger 2m0s is larger than allowed 1m0s"},
		{"message.timeout.ms", "10", "record timeout 10ms is less than allowed 1s"},
		{"session.timeout.ms", "99999999999", "want a number of milliseconds between 0 and 2147483647"},
		{"metadata.max.age.ms", "1000", "metadata max age 1s is erroneously less than metadata min age"},
		{"fetch.wait.max.ms", "5", "max fetch wait 5ms is less than allowed 10ms"},
		{"fetch.max.bytes", "0", "want an integer between 1 and 2147483647"},
		{"fetch.max.bytes", "4294967297", "want an integer between 1 and 2147483647"},
		{"batch.size", "100", "max record batch bytes 100 is less than allowed 512"},
		{"retries", "-1", "want an integer between 0 and"},
		{"isolation.level", "READ_COMMITTED", "want read_committed or read_uncommitted"},
		{"compression.type", "brotli", "want none, gzip, snappy, lz4 or zstd"},
		{"acks", "2", "want all, 1 or 0"},
		{"enable.idempotence", "", "want true or false"},
		{"group.instance.id", "", "invalid empty InstanceID"},
	} {
		err := clientconf.CheckProperty(tc.key, tc.value)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("CheckProperty(%q, %q): %v, want an error containing %q", tc.key, tc.value, err, tc.want)
		}
	}

	// CheckProperty sees one key at a time, so it does not refuse one half
	// of a pair that only the whole config can judge.
	for _, kv := range [][2]string{{"heartbeat.interval.ms", "60000"}, {"session.timeout.ms", "1000"}} {
		if err := clientconf.CheckProperty(kv[0], kv[1]); err != nil {
			t.Errorf("CheckProperty(%q, %q): %v, want nil", kv[0], kv[1], err)
		}
	}
}

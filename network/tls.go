package network

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/floe-bft/floe/consensus/model"
)

// Defaults applied by NewTLS to zero Config fields.
const (
	// DefaultMaxFrameSize matches model.MaxPayloadSize: the largest block
	// payload must fit in one frame.
	DefaultMaxFrameSize = 64 << 20
	// DefaultSendQueueLen is the per-peer send queue bound, in frames.
	DefaultSendQueueLen = 4096
	// DefaultReceiveQueueLen bounds the Receive channel.
	DefaultReceiveQueueLen = 8192
	// DefaultDialBackoffMin is the first reconnect delay.
	DefaultDialBackoffMin = 50 * time.Millisecond
	// DefaultDialBackoffMax caps the reconnect delay.
	DefaultDialBackoffMax = 5 * time.Second
	// DefaultHandshakeTimeout bounds dialing plus the TLS handshake of an
	// outbound connection.
	DefaultHandshakeTimeout = 10 * time.Second
	// DefaultInboundHandshakeTimeout bounds an accepted connection's TLS
	// handshake. It is short because the connection is unauthenticated and
	// holds a pending slot meanwhile; a member completes the handshake in
	// about one round trip.
	DefaultInboundHandshakeTimeout = 3 * time.Second
	// DefaultMaxPendingHandshakes bounds concurrent unauthenticated inbound
	// connections, so a flood of TCP connections cannot exhaust memory or
	// goroutines (see admission.go for what happens when it is full).
	DefaultMaxPendingHandshakes = 128
	// DefaultMaxPendingPerIP bounds one source address's pending inbound
	// handshakes (admission.go).
	DefaultMaxPendingPerIP = 8
)

const (
	frameHeaderLen = 4
	// ioBufferSize is the bufio size on both sides: large enough that
	// hundreds of small frames coalesce into one write (TLS splits it into
	// 16 KiB records), small enough to be irrelevant per connection.
	ioBufferSize = 64 << 10
	// stableConnection is how long an outbound connection must live before
	// the backoff resets. In TLS 1.3 the client finishes its handshake before
	// the server has checked the client certificate, so a peer that rejects
	// us looks "connected" for an instant; without this rule we would redial
	// it every DialBackoffMin forever.
	stableConnection = time.Second
)

// alpnProtocol versions the wire protocol: a peer speaking another
// version fails the handshake instead of misparsing frames.
var alpnProtocol = fmt.Sprintf("floe/%d", model.ProtocolVersion)

// errUnknownPeer is returned by certificate verification when the peer's key
// is not the pinned key we expect.
var errUnknownPeer = errors.New("network: peer key is not a pinned committee key")

// Peer is one committee member as listed in the genesis.
type Peer struct {
	ID         model.NodeID
	NetworkKey ed25519.PublicKey
	// Address is host:port to dial for traffic to this peer.
	Address string
}

// Config configures a TLS transport. Zero values take the defaults above.
type Config struct {
	// Self is this node's ID. Peers may list Self (the whole genesis can be
	// passed as is); that entry is skipped, but its key must match Key.
	Self model.NodeID
	// Key is this node's ed25519 network key. Its public half is what peers
	// pin in their genesis.
	Key ed25519.PrivateKey
	// ListenAddr is the host:port to accept inbound connections on.
	ListenAddr string
	// Listener, if set, is used instead of ListenAddr (tests use it to avoid
	// port races; a supervisor may hand over a socket). The transport closes
	// it on Close.
	Listener net.Listener
	// Peers lists every committee member.
	Peers []Peer

	// MaxFrameSize is the largest payload sent or accepted. An inbound
	// frame announcing more closes its connection.
	MaxFrameSize int
	// SendQueueLen bounds each peer's queue, in frames; Send drops beyond.
	SendQueueLen int
	// ReceiveQueueLen is the capacity of the Receive channel.
	ReceiveQueueLen int
	// DialBackoffMin and DialBackoffMax bound the delay between dials of
	// one peer; it doubles after each failure and is jittered.
	DialBackoffMin, DialBackoffMax time.Duration
	// HandshakeTimeout bounds the TCP dial plus the TLS handshake of an
	// outbound connection.
	HandshakeTimeout time.Duration
	// InboundHandshakeTimeout bounds the TLS handshake of an accepted
	// connection.
	InboundHandshakeTimeout time.Duration
	// MaxPendingHandshakes bounds the inbound handshakes in progress; when
	// it is reached the oldest one is evicted (admission.go).
	MaxPendingHandshakes int
	// MaxPendingPerIP bounds the inbound handshakes in progress from one
	// source address (one /64 for IPv6); beyond it connections from that
	// address are closed at once. The hosts of peer addresses are exempt.
	MaxPendingPerIP int
	// Logger receives connection events; nil discards them.
	Logger *slog.Logger
}

// Stats is a snapshot of a transport's counters, for metrics. Byte counts
// include the 4-byte length prefix of each frame.
type Stats struct {
	FramesSent     uint64 // frames written to a connection (counted when buffered)
	BytesSent      uint64
	FramesReceived uint64 // frames read from a connection
	BytesReceived  uint64
	// DroppedQueueFull counts frames Send refused because the destination
	// queue was full (all peers, including loopback to self).
	DroppedQueueFull uint64
	// DroppedTooLarge counts frames Send refused for exceeding MaxFrameSize.
	DroppedTooLarge uint64
	// OversizedFrames counts inbound frames announced larger than
	// MaxFrameSize; each closed its connection.
	OversizedFrames uint64
	// UnknownPeerRejected counts handshakes refused because the peer's key
	// is not pinned (inbound) or not the key of the peer dialed (outbound).
	UnknownPeerRejected uint64
	// HandshakeFailures counts other failed TLS handshakes (garbage,
	// timeouts, protocol mismatch), and connections refused because every
	// pending slot was held by a peer address's handshake.
	HandshakeFailures uint64
	// HandshakesAccepted counts inbound handshakes completed by members.
	HandshakesAccepted uint64
	// HandshakesEvicted counts pending inbound handshakes closed to make
	// room for a newer connection.
	HandshakesEvicted uint64
	// HandshakesRefusedPerIP counts connections closed at once because
	// their source address already had MaxPendingPerIP pending handshakes.
	HandshakesRefusedPerIP uint64
	// PendingHandshakes is a gauge: inbound handshakes in progress when the
	// snapshot was taken.
	PendingHandshakes uint64
	// DialFailures counts outbound TCP connection attempts that failed.
	DialFailures uint64
	// Reconnects counts outbound connections established after a peer's
	// first one (each means the previous connection was lost).
	Reconnects uint64
}

// counters are the live atomic counters behind Stats.
type counters struct {
	framesSent, bytesSent, framesReceived, bytesReceived atomic.Uint64
	droppedQueueFull, droppedTooLarge, oversized         atomic.Uint64
	unknownPeer, handshakeFailures, dialFailures         atomic.Uint64
	reconnects                                           atomic.Uint64
	handshakesAccepted, handshakesEvicted, refusedPerIP  atomic.Uint64
}

func (c *counters) snapshot() Stats {
	return Stats{
		FramesSent:          c.framesSent.Load(),
		BytesSent:           c.bytesSent.Load(),
		FramesReceived:      c.framesReceived.Load(),
		BytesReceived:       c.bytesReceived.Load(),
		DroppedQueueFull:    c.droppedQueueFull.Load(),
		DroppedTooLarge:     c.droppedTooLarge.Load(),
		OversizedFrames:     c.oversized.Load(),
		UnknownPeerRejected: c.unknownPeer.Load(),
		HandshakeFailures:   c.handshakeFailures.Load(),
		DialFailures:        c.dialFailures.Load(),
		Reconnects:          c.reconnects.Load(),

		HandshakesAccepted:     c.handshakesAccepted.Load(),
		HandshakesEvicted:      c.handshakesEvicted.Load(),
		HandshakesRefusedPerIP: c.refusedPerIP.Load(),
	}
}

// TLS is a Transport over TLS 1.3 with pinned ed25519 keys.
//
// Each node dials every peer for its outbound traffic and accepts inbound
// connections for inbound traffic, so a pair of nodes uses two TCP
// connections, each carrying frames in one direction. That avoids any
// tie-breaking between simultaneous dials: each side owns the connection it
// writes to and redials it on its own schedule.
//
// Receive backpressure: when the Receive channel is full, the read loops
// block rather than drop. The TCP window then closes, the peer's writer
// blocks, and its bounded send queue fills and drops (counted on the
// sender). Dropping on the receiver instead would waste the bandwidth
// already spent and hide the overload from the sender's metrics.
type TLS struct {
	cfg      Config
	log      *slog.Logger
	listener net.Listener
	server   *tls.Config

	// set is the current peer set, replaced whole (copy on write) when a
	// peer joins, so the hot paths read it without a lock.
	set     atomic.Pointer[peerSet]
	cert    tls.Certificate
	selfPub ed25519.PublicKey
	addMu   sync.Mutex // serialises AddPeer

	selfQ chan []byte // loopback queue; same bound as a peer's
	recv  chan Inbound
	stats counters

	ctx       context.Context // canceled by Close
	cancel    context.CancelFunc
	closed    atomic.Bool
	closeOnce sync.Once
	wg        sync.WaitGroup
	admission *admission  // pending inbound handshakes
	logs      *logLimiter // rate limit for lines about rejected connections

	connMu      sync.Mutex
	conns       map[net.Conn]struct{} // every open raw connection, closed by Close
	connsClosed bool
}

// peerSet is an immutable snapshot of the peers.
type peerSet struct {
	peers []*peer // config order, then join order, without self
	byID  map[model.NodeID]*peer
	byKey map[string]*peer // string(ed25519 public key)
	// sources are the source keys of the peers' address hosts, which
	// admission treats as known (admission.go).
	sources map[netip.Addr]struct{}
}

func (s *peerSet) with(p *peer) *peerSet {
	n := &peerSet{peers: append(append([]*peer(nil), s.peers...), p),
		byID: maps.Clone(s.byID), byKey: maps.Clone(s.byKey), sources: maps.Clone(s.sources)}
	n.byID[p.id] = p
	n.byKey[string(p.key)] = p
	for _, src := range peerSources(p.addr) {
		n.sources[src] = struct{}{}
	}
	return n
}

// peer is the per-member state.
type peer struct {
	id     model.NodeID
	addr   string
	key    ed25519.PublicKey
	client *tls.Config // pins key when dialing

	queue   chan []byte
	dropped atomic.Uint64
	outUp   atomic.Bool
	// wake cuts a redial backoff short: the peer just connected to us, so
	// it is up and (now) knows our key — typically a validator admitted by
	// a new epoch, whose dials were refused until then.
	wake chan struct{}

	mu      sync.Mutex
	inbound net.Conn // current accepted connection (raw), replaced by a newer one
}

var _ Transport = (*TLS)(nil)

// NewTLS validates cfg, starts listening, and starts dialing every peer.
func NewTLS(cfg Config) (*TLS, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	cert, err := selfSignedCert(cfg.Key, cfg.Self)
	if err != nil {
		return nil, err
	}
	t := &TLS{
		cfg:       cfg,
		log:       cfg.Logger.With("node", cfg.Self.String()),
		selfQ:     make(chan []byte, cfg.SendQueueLen),
		recv:      make(chan Inbound, cfg.ReceiveQueueLen),
		admission: newAdmission(cfg.MaxPendingHandshakes, cfg.MaxPendingPerIP),
		logs:      newLogLimiter(logInterval),
		conns:     make(map[net.Conn]struct{}),
	}
	t.cert = cert
	t.selfPub = cfg.Key.Public().(ed25519.PublicKey)
	t.set.Store(&peerSet{byID: make(map[model.NodeID]*peer), byKey: make(map[string]*peer),
		sources: make(map[netip.Addr]struct{})})
	for _, pc := range cfg.Peers {
		if pc.ID == cfg.Self {
			if !t.selfPub.Equal(pc.NetworkKey) {
				return nil, fmt.Errorf("network: peer list gives self %s a key that does not match Key", pc.ID)
			}
			continue
		}
		p, err := t.newPeer(pc)
		if err != nil {
			return nil, err
		}
		t.set.Store(t.set.Load().with(p))
	}
	t.server = &tls.Config{
		MinVersion:   tls.VersionTLS13,
		MaxVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		NextProtos:   []string{alpnProtocol},
		// Require a certificate but skip chain verification; the callback
		// checks the key against the committee.
		ClientAuth: tls.RequireAnyClientCert,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			key, err := leafKey(raw)
			if err != nil {
				return err
			}
			if _, ok := t.set.Load().byKey[string(key)]; !ok {
				return errUnknownPeer
			}
			return nil
		},
		// Resumption would bypass VerifyPeerCertificate.
		SessionTicketsDisabled: true,
	}

	t.listener = cfg.Listener
	if t.listener == nil {
		if t.listener, err = net.Listen("tcp", cfg.ListenAddr); err != nil {
			return nil, fmt.Errorf("network: listen: %w", err)
		}
	}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	peers := t.set.Load().peers
	t.wg.Add(2 + len(peers))
	go t.acceptLoop()
	go t.selfLoop()
	for _, p := range peers {
		go t.outboundLoop(p)
	}
	t.log.Info("network: listening", "addr", t.listener.Addr().String(), "peers", len(peers))
	return t, nil
}

// newPeer validates a peer's configuration against the current set.
func (t *TLS) newPeer(pc Peer) (*peer, error) {
	set := t.set.Load()
	if _, dup := set.byID[pc.ID]; dup || pc.ID == t.cfg.Self {
		return nil, fmt.Errorf("network: duplicate peer ID %s", pc.ID)
	}
	if len(pc.NetworkKey) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("network: peer %s: network key must be %d bytes", pc.ID, ed25519.PublicKeySize)
	}
	// Identity is the key: two members sharing one would be
	// indistinguishable on an inbound connection.
	if _, dup := set.byKey[string(pc.NetworkKey)]; dup || t.selfPub.Equal(pc.NetworkKey) {
		return nil, fmt.Errorf("network: peer %s: network key is not unique", pc.ID)
	}
	if pc.Address == "" {
		return nil, fmt.Errorf("network: peer %s has no address", pc.ID)
	}
	p := &peer{
		id:    pc.ID,
		addr:  pc.Address,
		key:   append(ed25519.PublicKey(nil), pc.NetworkKey...),
		queue: make(chan []byte, t.cfg.SendQueueLen),
		wake:  make(chan struct{}, 1),
	}
	p.client = &tls.Config{
		MinVersion:   tls.VersionTLS13,
		MaxVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{t.cert},
		NextProtos:   []string{alpnProtocol},
		// No CA and no hostname: the pinned key below is the whole
		// identity check, and the standard chain verification would
		// reject our self-signed certificates.
		InsecureSkipVerify: true,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			key, err := leafKey(raw)
			if err != nil {
				return err
			}
			if !key.Equal(p.key) {
				return errUnknownPeer
			}
			return nil
		},
		// No ClientSessionCache: resumed sessions skip
		// VerifyPeerCertificate, so resumption is never used.
	}
	return p, nil
}

// AddPeer adds a peer at run time (a member of a new epoch): from now on
// its inbound connections are accepted and it is dialed. Adding a peer that
// is already known with the same key and address is a no-op.
func (t *TLS) AddPeer(pc Peer) error {
	t.addMu.Lock()
	defer t.addMu.Unlock()
	if t.closed.Load() {
		return fmt.Errorf("network: closed")
	}
	if old := t.set.Load().byID[pc.ID]; old != nil && old.key.Equal(pc.NetworkKey) && old.addr == pc.Address {
		return nil
	}
	if pc.ID == t.cfg.Self {
		return nil
	}
	p, err := t.newPeer(pc)
	if err != nil {
		return err
	}
	t.set.Store(t.set.Load().with(p))
	t.wg.Add(1)
	go t.outboundLoop(p)
	t.log.Info("network: peer added", "peer", pc.ID.String(), "addr", pc.Address)
	return nil
}

func (c *Config) setDefaults() error {
	if len(c.Key) != ed25519.PrivateKeySize {
		return fmt.Errorf("network: Key must be an ed25519 private key (%d bytes)", ed25519.PrivateKeySize)
	}
	if c.ListenAddr == "" && c.Listener == nil {
		return errors.New("network: ListenAddr or Listener is required")
	}
	if c.MaxFrameSize == 0 {
		c.MaxFrameSize = DefaultMaxFrameSize
	}
	if c.MaxFrameSize < 0 || uint64(c.MaxFrameSize) > math.MaxUint32 {
		return fmt.Errorf("network: MaxFrameSize %d out of range", c.MaxFrameSize)
	}
	if c.SendQueueLen <= 0 {
		c.SendQueueLen = DefaultSendQueueLen
	}
	if c.ReceiveQueueLen <= 0 {
		c.ReceiveQueueLen = DefaultReceiveQueueLen
	}
	if c.DialBackoffMin <= 0 {
		c.DialBackoffMin = DefaultDialBackoffMin
	}
	if c.DialBackoffMax <= 0 {
		c.DialBackoffMax = DefaultDialBackoffMax
	}
	if c.DialBackoffMax < c.DialBackoffMin {
		c.DialBackoffMax = c.DialBackoffMin
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if c.InboundHandshakeTimeout <= 0 {
		c.InboundHandshakeTimeout = DefaultInboundHandshakeTimeout
	}
	if c.MaxPendingHandshakes <= 0 {
		c.MaxPendingHandshakes = DefaultMaxPendingHandshakes
	}
	if c.MaxPendingPerIP <= 0 {
		c.MaxPendingPerIP = DefaultMaxPendingPerIP
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// selfSignedCert wraps the network key in a certificate, which TLS needs to
// carry it. Nothing in it but the key is trusted: validity dates and names
// are ignored by the pinned-key check, so the certificate never expires in
// practice and is regenerated at every start.
func selfSignedCert(key ed25519.PrivateKey, self model.NodeID) (tls.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "floe-" + self.Hex()},
		NotBefore:             now.Add(-24 * time.Hour), // tolerate clock skew
		NotAfter:              now.AddDate(50, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("network: certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// leafKey extracts the ed25519 key of the peer's leaf certificate. TLS 1.3
// has already checked that the peer holds the matching private key (its
// CertificateVerify signature), so the key alone identifies the peer.
func leafKey(raw [][]byte) (ed25519.PublicKey, error) {
	if len(raw) == 0 {
		return nil, fmt.Errorf("%w: no certificate", errUnknownPeer)
	}
	cert, err := x509.ParseCertificate(raw[0])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUnknownPeer, err)
	}
	key, ok := cert.PublicKey.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: certificate key is not ed25519", errUnknownPeer)
	}
	return key, nil
}

// Addr is the listening address (useful when ListenAddr had port 0).
func (t *TLS) Addr() net.Addr { return t.listener.Addr() }

// Send queues data for one peer, or for Receive if to is Self. It never
// blocks. The transport keeps data until written: the caller must not modify
// it afterwards.
func (t *TLS) Send(to model.NodeID, data []byte) bool {
	if t.closed.Load() {
		return false
	}
	if len(data) > t.cfg.MaxFrameSize {
		t.stats.droppedTooLarge.Add(1)
		return false
	}
	if to == t.cfg.Self {
		select {
		case t.selfQ <- data:
			return true
		default:
			t.stats.droppedQueueFull.Add(1)
			return false
		}
	}
	p := t.set.Load().byID[to]
	if p == nil {
		return false
	}
	return t.enqueue(p, data)
}

func (t *TLS) enqueue(p *peer, data []byte) bool {
	select {
	case p.queue <- data:
		return true
	default:
		p.dropped.Add(1)
		t.stats.droppedQueueFull.Add(1)
		return false
	}
}

// Broadcast queues data for every peer except self. The same slice is shared
// by all queues; the caller must not modify it afterwards.
func (t *TLS) Broadcast(data []byte) {
	if t.closed.Load() {
		return
	}
	peers := t.set.Load().peers
	if len(data) > t.cfg.MaxFrameSize {
		t.stats.droppedTooLarge.Add(uint64(len(peers)))
		return
	}
	for _, p := range peers {
		t.enqueue(p, data)
	}
}

// Receive delivers inbound frames; the receiver owns Inbound.Data. The
// channel is closed by Close once every goroutine has stopped.
func (t *TLS) Receive() <-chan Inbound { return t.recv }

// Peers reports each peer in configuration order. Connected means our
// outbound connection (the one our frames travel on) is established.
func (t *TLS) Peers() []PeerStatus {
	peers := t.set.Load().peers
	out := make([]PeerStatus, len(peers))
	for i, p := range peers {
		out[i] = PeerStatus{ID: p.id, Address: p.addr, Connected: p.outUp.Load(), Dropped: p.dropped.Load()}
	}
	return out
}

// Stats returns a snapshot of the counters.
func (t *TLS) Stats() Stats {
	s := t.stats.snapshot()
	s.PendingHandshakes = uint64(t.admission.pending())
	return s
}

// Close stops listening, closes every connection, waits for all goroutines
// and then closes the Receive channel. Frames still queued are discarded.
// It is safe to call more than once.
func (t *TLS) Close() error {
	var err error
	t.closeOnce.Do(func() {
		t.addMu.Lock() // no AddPeer starts a goroutine after this
		t.closed.Store(true)
		t.addMu.Unlock()
		t.cancel()
		err = t.listener.Close()
		t.connMu.Lock()
		t.connsClosed = true
		for c := range t.conns {
			c.Close()
		}
		t.conns = nil
		t.connMu.Unlock()
		t.wg.Wait()
		close(t.recv)
		t.log.Info("network: closed")
	})
	return err
}

// track registers a raw connection so Close can abort it; it reports false
// (and the caller must close c) once Close has started.
func (t *TLS) track(c net.Conn) bool {
	t.connMu.Lock()
	defer t.connMu.Unlock()
	if t.connsClosed {
		return false
	}
	t.conns[c] = struct{}{}
	return true
}

// drop closes a raw connection and forgets it. Closing the raw connection
// rather than the tls.Conn skips close_notify, which could block on a peer
// that stopped reading; frames are self-delimiting, so it is not needed.
func (t *TLS) drop(c net.Conn) {
	t.connMu.Lock()
	if t.conns != nil {
		delete(t.conns, c)
	}
	t.connMu.Unlock()
	c.Close()
}

// sleep waits d or until Close; it reports false on Close.
func (t *TLS) sleep(d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-t.ctx.Done():
		return false
	}
}

// sleepOrWake is sleep that also ends when wake fires.
func (t *TLS) sleepOrWake(d time.Duration, wake <-chan struct{}) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-wake:
	case <-t.ctx.Done():
		return false
	}
	return true
}

// jitter spreads d over [d/2, d] so that nodes restarted together do not
// redial in lockstep.
func jitter(d time.Duration) time.Duration {
	half := d / 2
	return half + mrand.N(d-half+1)
}

// classify counts a failed handshake. p is the peer dialed, nil for an
// inbound connection.
func (t *TLS) classify(err error, p *peer, remote string) {
	if errors.Is(err, errUnknownPeer) {
		t.stats.unknownPeer.Add(1)
		reason := logUnknownKeyInbound
		if p != nil {
			reason = logUnknownKeyOutbound
		}
		t.warnLimited(reason, "network: rejected peer with unpinned key", "remote", remote, "dialed", peerName(p), "err", err)
		return
	}
	t.stats.handshakeFailures.Add(1)
	t.log.Debug("network: handshake failed", "remote", remote, "dialed", peerName(p), "err", err)
}

// warnLimited writes a WARN line unless one of the same reason was written
// less than logInterval ago; the line carries the number held back since
// the previous one ("suppressed"). Only for events counted elsewhere.
func (t *TLS) warnLimited(reason, msg string, args ...any) {
	ok, suppressed := t.logs.allow(reason)
	if !ok {
		return
	}
	t.log.Warn(msg, append(args, "suppressed", suppressed)...)
}

func peerName(p *peer) string {
	if p == nil {
		return ""
	}
	return p.id.String()
}

// selfLoop moves loopback frames to Receive. Going through a queue like any
// peer keeps Send non-blocking and per-destination FIFO for self as well.
func (t *TLS) selfLoop() {
	defer t.wg.Done()
	for {
		select {
		case f := <-t.selfQ:
			select {
			case t.recv <- Inbound{From: t.cfg.Self, Data: f}:
			case <-t.ctx.Done():
				return
			}
		case <-t.ctx.Done():
			return
		}
	}
}

// outboundLoop owns the connection carrying our frames to p: it dials,
// writes until the connection breaks, and redials with exponential backoff
// and jitter. Frames stay in p.queue (up to its bound) while disconnected.
func (t *TLS) outboundLoop(p *peer) {
	defer t.wg.Done()
	backoff := t.cfg.DialBackoffMin
	established := false
	for {
		raw, conn := t.dial(p)
		if conn != nil {
			if established {
				t.stats.reconnects.Add(1)
			}
			established = true
			start := time.Now()
			p.outUp.Store(true)
			t.log.Debug("network: connected", "peer", p.id.String(), "addr", p.addr)
			t.writeLoop(p, conn)
			p.outUp.Store(false)
			t.drop(raw)
			if time.Since(start) >= stableConnection {
				backoff = t.cfg.DialBackoffMin
			}
		}
		if t.ctx.Err() != nil || !t.sleepOrWake(jitter(backoff), p.wake) {
			return
		}
		backoff = min(backoff*2, t.cfg.DialBackoffMax)
	}
}

// dial opens and authenticates a connection to p. It returns nil on failure
// (already counted).
func (t *TLS) dial(p *peer) (net.Conn, *tls.Conn) {
	ctx, cancel := context.WithTimeout(t.ctx, t.cfg.HandshakeTimeout)
	defer cancel()
	d := net.Dialer{}
	raw, err := d.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		if t.ctx.Err() == nil {
			t.stats.dialFailures.Add(1)
			t.log.Debug("network: dial failed", "peer", p.id.String(), "addr", p.addr, "err", err)
		}
		return nil, nil
	}
	if !t.track(raw) {
		raw.Close()
		return nil, nil
	}
	tuneConn(raw)
	conn := tls.Client(raw, p.client)
	if err := conn.HandshakeContext(ctx); err != nil {
		if t.ctx.Err() == nil {
			t.classify(err, p, p.addr)
		}
		t.drop(raw)
		return nil, nil
	}
	return raw, conn
}

// writeLoop writes queued frames to conn until it fails or Close. Frames go
// through a bufio.Writer flushed only when the queue is momentarily empty,
// so a burst of small frames costs a few large writes (and TLS records)
// instead of one syscall each, while a lone frame is still sent at once.
func (t *TLS) writeLoop(p *peer, conn *tls.Conn) {
	// Nothing is ever sent to us on this connection; reading only detects
	// that the peer closed it (for instance after rejecting our key or an
	// oversized frame), so an idle writer notices without waiting for the
	// next frame.
	dead := make(chan struct{})
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		defer close(dead)
		var b [1]byte
		_, _ = conn.Read(b[:]) // any data is a protocol violation: treat as dead too
	}()

	bw := bufio.NewWriterSize(conn, ioBufferSize)
	var hdr [frameHeaderLen]byte
	for {
		var f []byte
		select {
		case f = <-p.queue:
		default:
			if bw.Buffered() > 0 {
				if err := bw.Flush(); err != nil {
					return
				}
			}
			select {
			case f = <-p.queue:
			case <-dead:
				return
			case <-t.ctx.Done():
				return
			}
		}
		binary.BigEndian.PutUint32(hdr[:], uint32(len(f)))
		if _, err := bw.Write(hdr[:]); err != nil {
			return
		}
		if _, err := bw.Write(f); err != nil {
			return
		}
		t.stats.framesSent.Add(1)
		t.stats.bytesSent.Add(uint64(frameHeaderLen + len(f)))
	}
}

// readPayload reads an n-byte payload. Large payloads are read into a
// buffer that grows as bytes arrive (at most doubling, so at most 2n bytes
// copied): a peer announcing a 64 MiB frame then sending nothing pins a
// megabyte, not 64.
func readPayload(r io.Reader, n int) ([]byte, error) {
	const chunk = 1 << 20
	if n <= chunk {
		buf := make([]byte, n)
		_, err := io.ReadFull(r, buf)
		return buf, err
	}
	buf := make([]byte, 0, chunk)
	for len(buf) < n {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, min(len(buf), n-len(buf)))
		}
		k, err := io.ReadFull(r, buf[len(buf):min(cap(buf), n)])
		buf = buf[:len(buf)+k]
		if err != nil {
			return nil, err
		}
	}
	return buf, nil
}

// acceptLoop accepts inbound connections, applies admission control
// (admission.go) and hands each admitted connection to a goroutine for the
// handshake.
func (t *TLS) acceptLoop() {
	defer t.wg.Done()
	for {
		raw, err := t.listener.Accept()
		if err != nil {
			if t.ctx.Err() != nil {
				return
			}
			// Typically EMFILE: back off instead of spinning.
			t.warnLimited(logAcceptFailed, "network: accept failed", "err", err)
			if !t.sleep(t.cfg.DialBackoffMin) {
				return
			}
			continue
		}
		h, ok := t.admit(raw)
		if !ok {
			raw.Close()
			continue
		}
		if !t.track(raw) {
			t.admission.release(h)
			raw.Close()
			return
		}
		t.wg.Add(1)
		go t.serveInbound(raw, h)
	}
}

// admit asks admission for a slot for raw, closing and counting an evicted
// handshake; it reports false (counted, logged at a limited rate) when raw
// must be closed at once.
func (t *TLS) admit(raw net.Conn) (*pendingHandshake, bool) {
	source := sourceKey(raw.RemoteAddr())
	_, known := t.set.Load().sources[source]
	h, victim, verdict := t.admission.admit(raw, source, known)
	switch verdict {
	case refusedPerSource:
		t.stats.refusedPerIP.Add(1)
		t.warnLimited(logRefusedPerSource, "network: refused connection: too many pending handshakes from its address",
			"remote", raw.RemoteAddr().String(), "max", t.cfg.MaxPendingPerIP)
		return nil, false
	case refusedFull:
		t.stats.handshakeFailures.Add(1)
		t.warnLimited(logRefusedFull, "network: refused connection: every pending handshake is from a peer address",
			"remote", raw.RemoteAddr().String(), "max", t.cfg.MaxPendingHandshakes)
		return nil, false
	}
	if victim != nil {
		// Its serveInbound sees the handshake fail, finds the slot gone
		// (release reports false) and returns without counting a failure.
		victim.Close()
		t.stats.handshakesEvicted.Add(1)
		t.warnLimited(logEvicted, "network: pending handshakes full: evicted the oldest",
			"remote", victim.RemoteAddr().String(), "max", t.cfg.MaxPendingHandshakes)
	}
	return h, true
}

// serveInbound authenticates an accepted connection, makes it the peer's
// current inbound connection, and reads frames from it.
func (t *TLS) serveInbound(raw net.Conn, h *pendingHandshake) {
	defer t.wg.Done()
	defer t.drop(raw)
	tuneConn(raw)
	conn := tls.Server(raw, t.server)
	ctx, cancel := context.WithTimeout(t.ctx, t.cfg.InboundHandshakeTimeout)
	err := conn.HandshakeContext(ctx)
	cancel()
	if !t.admission.release(h) {
		// Evicted (and counted) while handshaking: raw is closed, even if
		// the handshake happened to finish first.
		return
	}
	if err != nil {
		if t.ctx.Err() == nil {
			t.classify(err, nil, raw.RemoteAddr().String())
		}
		return
	}
	t.stats.handshakesAccepted.Add(1)
	certs := conn.ConnectionState().PeerCertificates
	key, _ := certs[0].PublicKey.(ed25519.PublicKey) // checked by VerifyPeerCertificate
	p := t.set.Load().byKey[string(key)]

	// A newer connection from the same peer means it redialed (it restarted
	// or lost the old one without us noticing): the old one is dead weight.
	p.mu.Lock()
	old := p.inbound
	p.inbound = raw
	p.mu.Unlock()
	if old != nil {
		old.Close()
	}
	if !p.outUp.Load() {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}

	t.readLoop(p, conn)

	p.mu.Lock()
	if p.inbound == raw {
		p.inbound = nil
	}
	p.mu.Unlock()
}

// readLoop reads frames and delivers them to Receive, blocking while it is
// full (see the TLS type comment). It returns on error, on an oversized
// frame, or on Close.
func (t *TLS) readLoop(p *peer, conn *tls.Conn) {
	br := bufio.NewReaderSize(conn, ioBufferSize)
	var hdr [frameHeaderLen]byte
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return
		}
		n := binary.BigEndian.Uint32(hdr[:])
		if uint64(n) > uint64(t.cfg.MaxFrameSize) {
			// Check before allocating: the length is attacker-controlled.
			t.stats.oversized.Add(1)
			t.log.Warn("network: oversized frame, closing connection", "peer", p.id.String(), "size", n, "max", t.cfg.MaxFrameSize)
			return
		}
		buf, err := readPayload(br, int(n))
		if err != nil {
			return
		}
		t.stats.framesReceived.Add(1)
		t.stats.bytesReceived.Add(uint64(frameHeaderLen) + uint64(n))
		select {
		case t.recv <- Inbound{From: p.id, Data: buf}:
		case <-t.ctx.Done():
			return
		}
	}
}

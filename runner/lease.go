package runner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"dinmo/catalog"
)

// NewRunnerID returns a runner identity "host:pid:random". The host and pid let a runner on the
// same host recognise a lease left behind by a process that died (and take it over at once
// instead of waiting for it to expire); the random part tells apart runners of one process.
func NewRunnerID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return host + ":" + strconv.Itoa(os.Getpid()) + ":" + hex.EncodeToString(b)
}

// parseRunnerID splits an id made by NewRunnerID; ok is false for other owners.
func parseRunnerID(id string) (host string, pid int, ok bool) {
	last := strings.LastIndexByte(id, ':')
	if last <= 0 {
		return "", 0, false
	}
	rest := id[:last]
	mid := strings.LastIndexByte(rest, ':')
	if mid <= 0 {
		return "", 0, false
	}
	pid, err := strconv.Atoi(rest[mid+1:])
	if err != nil || pid <= 0 {
		return "", 0, false
	}
	return rest[:mid], pid, true
}

// BusyError reports that another runner holds an activation's lease: the activation is running
// elsewhere (or a runner died less than a lease TTL ago on another host).
type BusyError struct {
	Activation string
	Holder     string
	Until      time.Time
}

func (e *BusyError) Error() string {
	return fmt.Sprintf("activation %s is already running: runner %s holds its lease until %s (it is renewed while that run lasts)",
		e.Activation, e.Holder, e.Until.UTC().Format(time.RFC3339))
}

// errLeaseLost is the cause of a run's cancellation when its lease could not be renewed.
var errLeaseLost = errors.New("the lease was lost (another runner may have taken over)")

// lease is a held lease (an activation's run lease, or a task's), renewed by a heartbeat
// until released.
type lease struct {
	// renew extends the lease by its TTL; false means another runner holds it now. free
	// releases it; nil leaves that to the caller (a task's release also stores its next run).
	renew  func(ctx context.Context) (bool, error)
	free   func(ctx context.Context) error
	ttl    time.Duration
	logger *slog.Logger

	// lost is cancelled (with a cause) when renewal fails; the run stops at once and commits
	// nothing, since another runner may be working on the activation's tables.
	lost       context.Context
	cancelLost context.CancelCauseFunc

	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
}

// acquireLease takes the activation's lease for this runner, taking it over from a dead
// process of this host, and starts its heartbeat. A lease held by a live runner is a
// *BusyError.
func (r *Runner) acquireLease(ctx context.Context, act *catalog.Activation, logger *slog.Logger) (*lease, error) {
	ok, err := r.store.AcquireLease(ctx, act.ID, r.id, r.leaseTTL)
	if err != nil {
		return nil, fmt.Errorf("acquire lease of activation %s: %w", act.Name, err)
	}
	if !ok {
		holder, until, err := r.store.LeaseHolder(ctx, act.ID)
		if err != nil {
			return nil, fmt.Errorf("read lease of activation %s: %w", act.Name, err)
		}
		switch {
		case holder == "":
			// Released between the two calls: try once more.
			if ok, err = r.store.AcquireLease(ctx, act.ID, r.id, r.leaseTTL); err != nil {
				return nil, fmt.Errorf("acquire lease of activation %s: %w", act.Name, err)
			}
		case r.holderIsDead(holder):
			if ok, err = r.store.StealLease(ctx, act.ID, holder, r.id, r.leaseTTL); err != nil {
				return nil, fmt.Errorf("take over lease of activation %s: %w", act.Name, err)
			}
			if ok {
				logger.Warn("took over the lease of a runner process that is gone", LogHolder, holder)
			}
		}
		if !ok {
			return nil, &BusyError{Activation: act.Name, Holder: holder, Until: until}
		}
	}
	return startLease(r.leaseTTL, logger,
		func(ctx context.Context) (bool, error) { return r.store.AcquireLease(ctx, act.ID, r.id, r.leaseTTL) },
		func(ctx context.Context) error { return r.store.ReleaseLease(ctx, act.ID, r.id) }), nil
}

// startLease starts the heartbeat of a lease just acquired. The heartbeat deliberately
// outlives the caller's context: a run asked to stop still commits under its lease, and
// release ends the heartbeat.
func startLease(ttl time.Duration, logger *slog.Logger, renew func(context.Context) (bool, error), free func(context.Context) error) *lease {
	lostCtx, cancel := context.WithCancelCause(context.Background())
	l := &lease{
		renew: renew, free: free, ttl: ttl, logger: logger,
		lost: lostCtx, cancelLost: cancel, stop: make(chan struct{}), done: make(chan struct{}),
	}
	go l.heartbeat()
	return l
}

// holderIsDead reports whether a lease owner is a runner process of this host that no longer
// exists. Owners on other hosts, of this process, or not made by NewRunnerID are presumed alive.
func (r *Runner) holderIsDead(owner string) bool {
	host, pid, ok := parseRunnerID(owner)
	if !ok || host != r.host || pid == os.Getpid() {
		return false
	}
	return !processAlive(pid)
}

// heartbeat renews the lease every TTL/3. A renewal the store refuses (someone else holds the
// lease) cancels the run at once; failed renewals are retried while the lease has not expired.
func (l *lease) heartbeat() {
	defer close(l.done)
	every := l.ttl / 3
	t := time.NewTicker(every)
	defer t.Stop()
	expires := time.Now().Add(l.ttl)
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), every)
		ok, err := l.renew(ctx)
		cancel()
		switch {
		case err == nil && ok:
			expires = time.Now().Add(l.ttl)
		case err == nil:
			l.logger.Error("lease renewal refused: another runner holds the lease")
			l.cancelLost(errLeaseLost)
			return
		case time.Until(expires) <= every:
			l.logger.Error("lease renewal failed; stopping the run", LogError, err.Error())
			l.cancelLost(fmt.Errorf("%w: renewal failed: %w", errLeaseLost, err))
			return
		default:
			l.logger.Warn("lease renewal failed; retrying", LogError, err.Error())
		}
	}
}

// release stops the heartbeat and frees the lease (unless it was lost, or free is nil).
func (l *lease) release() {
	l.stopOnce.Do(func() { close(l.stop) })
	<-l.done
	if l.lost.Err() != nil {
		return
	}
	l.cancelLost(nil)
	if l.free == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.free(ctx); err != nil {
		l.logger.Warn("releasing lease failed; it expires by itself", LogError, err.Error())
	}
}

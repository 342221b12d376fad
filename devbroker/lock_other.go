//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package devbroker

// dirLock does nothing on platforms without flock: two brokers on one data
// dir are not detected there.
type dirLock struct{}

func lockDataDir(string) (*dirLock, error) { return nil, nil }

func (*dirLock) release() error { return nil }

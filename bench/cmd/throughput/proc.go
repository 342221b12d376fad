package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// clockTick is USER_HZ, the unit of /proc/<pid>/stat times; it is 100 on
// every Linux platform Go supports.
const clockTick = 100

// process is a child process the benchmark started. Its stdout and
// stderr go to a log file, quoted when it fails.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	start   time.Time
	done    chan struct{} // closed when the process has exited
	waitErr error

	mu    sync.Mutex
	hwmKB int64 // highest VmHWM seen
	stop  chan struct{}
}

// startProcess starts bin with args, in its own process group, logging to
// logPath, and samples its peak RSS until it exits.
func startProcess(name, logPath, bin string, args ...string) (*process, error) {
	log, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p := &process{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{}), stop: make(chan struct{})}
	p.start = time.Now()
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	live.add(p)
	go func() {
		p.waitErr = cmd.Wait()
		log.Close()
		close(p.done)
	}()
	go p.sampleRSS()
	return p, nil
}

func (p *process) pid() int { return p.cmd.Process.Pid }

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *process) sampleRSS() {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		p.noteRSS()
		select {
		case <-p.done:
			return
		case <-t.C:
		}
	}
}

func (p *process) noteRSS() {
	kb, err := vmHWM(p.pid())
	if err != nil {
		return
	}
	p.mu.Lock()
	p.hwmKB = max(p.hwmKB, kb)
	p.mu.Unlock()
}

// peakRSS is the highest resident set size seen, from VmHWM samples and,
// once the process has exited, its rusage.
func (p *process) peakRSS() int64 {
	p.mu.Lock()
	kb := p.hwmKB
	p.mu.Unlock()
	if p.exited() && p.cmd.ProcessState != nil {
		if ru, ok := p.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			kb = max(kb, ru.Maxrss)
		}
	}
	return kb * 1024
}

// terminate sends SIGTERM and waits up to grace for the process to exit,
// then kills its process group. It reports whether the process stopped
// cleanly (exit status 0 after SIGTERM).
func (p *process) terminate(grace time.Duration) error {
	defer live.remove(p)
	if !p.exited() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(grace):
			_ = syscall.Kill(-p.pid(), syscall.SIGKILL)
			<-p.done
			return fmt.Errorf("%s did not stop within %v of SIGTERM: killed", p.name, grace)
		}
	}
	// Whatever the process left in its group goes too.
	_ = syscall.Kill(-p.pid(), syscall.SIGKILL)
	if p.waitErr != nil {
		return fmt.Errorf("%s: %w", p.name, p.waitErr)
	}
	return nil
}

// kill kills the process group at once, unless the process has exited.
func (p *process) kill() {
	defer live.remove(p)
	if p.exited() {
		return
	}
	_ = syscall.Kill(-p.pid(), syscall.SIGKILL)
	<-p.done
}

// logTail returns the last n lines of the process's log.
func (p *process) logTail(n int) string {
	data, err := os.ReadFile(p.logPath)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  | " + strings.Join(lines, "\n  | ")
}

// liveSet is every started process not yet stopped, killed on exit.
type liveSet struct {
	mu    sync.Mutex
	procs map[*process]bool
}

var live = &liveSet{procs: make(map[*process]bool)}

func (s *liveSet) add(p *process) {
	s.mu.Lock()
	s.procs[p] = true
	s.mu.Unlock()
}

func (s *liveSet) remove(p *process) {
	s.mu.Lock()
	delete(s.procs, p)
	s.mu.Unlock()
}

func (s *liveSet) killAll() {
	s.mu.Lock()
	ps := make([]*process, 0, len(s.procs))
	for p := range s.procs {
		ps = append(ps, p)
	}
	s.procs = make(map[*process]bool)
	s.mu.Unlock()
	for _, p := range ps {
		p.kill()
	}
}

// procStat is the part of /proc/<pid>/stat the benchmark reads.
type procStat struct {
	ppid int
	// cpu is utime+stime, and cutime+cstime (waited-for children), in
	// clock ticks.
	cpu, childCPU int64
}

func readStat(pid int) (procStat, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 15 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	num := func(k int) int64 { v, _ := strconv.ParseInt(f[k], 10, 64); return v }
	return procStat{ppid: int(num(1)), cpu: num(11) + num(12), childCPU: num(13) + num(14)}, nil
}

// cpuSeconds is the CPU time of pid alone.
func cpuSeconds(pid int) (float64, error) {
	st, err := readStat(pid)
	if err != nil {
		return 0, err
	}
	return float64(st.cpu) / clockTick, nil
}

// treeCPUSeconds is the CPU time of pid, its live descendants and the
// children it has waited for.
func treeCPUSeconds(pid int) (float64, error) {
	root, err := readStat(pid)
	if err != nil {
		return 0, err
	}
	total := root.cpu + root.childCPU
	type node struct {
		pid int
		st  procStat
	}
	byParent := make(map[int][]node)
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil || n == pid {
			continue
		}
		if st, err := readStat(n); err == nil {
			byParent[st.ppid] = append(byParent[st.ppid], node{n, st})
		}
	}
	for queue := []int{pid}; len(queue) > 0; queue = queue[1:] {
		for _, c := range byParent[queue[0]] {
			total += c.st.cpu + c.st.childCPU
			queue = append(queue, c.pid)
		}
	}
	return float64(total) / clockTick, nil
}

// vmHWM is the peak resident set size of pid in KiB.
func vmHWM(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, errors.New("no VmHWM")
}

// loadAvg is the 1-minute load average.
func loadAvg() float64 {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

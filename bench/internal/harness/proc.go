// Package harness is what the benchmark commands (bench/cmd/throughput,
// bench/cmd/windowed) share: child processes with their CPU time and peak
// RSS read from /proc, a standalone development broker, topic and
// consumer group queries, the programs' build, and medians.
package harness

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// clockTick is USER_HZ, the unit of /proc/<pid>/stat times; it is 100 on
// every Linux platform Go supports.
const clockTick = 100

// Process is a child process the benchmark started. Its stdout and
// stderr go to a log file, quoted when it fails.
type Process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	// Start is when the process was started.
	Start time.Time
	// Done is closed when the process has exited; WaitErr is then set.
	Done    chan struct{}
	WaitErr error

	mu    sync.Mutex
	hwmKB int64 // highest VmHWM seen
}

// StartProcess starts bin with args, in its own process group, logging to
// logPath, and samples its peak RSS until it exits. [KillAll] kills it if
// it is still running then.
func StartProcess(name, logPath, bin string, args ...string) (*Process, error) {
	log, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p := &Process{name: name, cmd: cmd, logPath: logPath, Done: make(chan struct{})}
	p.Start = time.Now()
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	live.add(p)
	go func() {
		p.WaitErr = cmd.Wait()
		log.Close()
		close(p.Done)
	}()
	go p.sampleRSS()
	return p, nil
}

// PID is the process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.Done:
		return true
	default:
		return false
	}
}

func (p *Process) sampleRSS() {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		p.NoteRSS()
		select {
		case <-p.Done:
			return
		case <-t.C:
		}
	}
}

// NoteRSS samples the process's peak RSS now; the samples also run every
// 100 ms until it exits.
func (p *Process) NoteRSS() {
	kb, err := vmHWM(p.PID())
	if err != nil {
		return
	}
	p.mu.Lock()
	p.hwmKB = max(p.hwmKB, kb)
	p.mu.Unlock()
}

// PeakRSS is the highest resident set size seen, from VmHWM samples and,
// once the process has exited, its rusage.
func (p *Process) PeakRSS() int64 {
	p.mu.Lock()
	kb := p.hwmKB
	p.mu.Unlock()
	if p.Exited() && p.cmd.ProcessState != nil {
		if ru, ok := p.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			kb = max(kb, ru.Maxrss)
		}
	}
	return kb * 1024
}

// Terminate sends SIGTERM and waits up to grace for the process to exit,
// then kills its process group. It reports whether the process stopped
// cleanly (exit status 0 after SIGTERM).
func (p *Process) Terminate(grace time.Duration) error {
	defer live.remove(p)
	if !p.Exited() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.Done:
		case <-time.After(grace):
			_ = syscall.Kill(-p.PID(), syscall.SIGKILL)
			<-p.Done
			return fmt.Errorf("%s did not stop within %v of SIGTERM: killed", p.name, grace)
		}
	}
	// Whatever the process left in its group goes too.
	_ = syscall.Kill(-p.PID(), syscall.SIGKILL)
	if p.WaitErr != nil {
		return fmt.Errorf("%s: %w", p.name, p.WaitErr)
	}
	return nil
}

// Kill kills the process group at once, unless the process has exited.
func (p *Process) Kill() {
	defer live.remove(p)
	if p.Exited() {
		return
	}
	_ = syscall.Kill(-p.PID(), syscall.SIGKILL)
	<-p.Done
}

// LogTail returns the last n lines of the process's log.
func (p *Process) LogTail(n int) string {
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
	procs map[*Process]bool
}

var live = &liveSet{procs: make(map[*Process]bool)}

func (s *liveSet) add(p *Process) {
	s.mu.Lock()
	s.procs[p] = true
	s.mu.Unlock()
}

func (s *liveSet) remove(p *Process) {
	s.mu.Lock()
	delete(s.procs, p)
	s.mu.Unlock()
}

// KillAll kills every process StartProcess started that is still
// running; call it however the benchmark ends.
func KillAll() { live.killAll() }

func (s *liveSet) killAll() {
	s.mu.Lock()
	ps := make([]*Process, 0, len(s.procs))
	for p := range s.procs {
		ps = append(ps, p)
	}
	s.procs = make(map[*Process]bool)
	s.mu.Unlock()
	for _, p := range ps {
		p.Kill()
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

// CPUSeconds is the CPU time of pid alone.
func CPUSeconds(pid int) (float64, error) {
	st, err := readStat(pid)
	if err != nil {
		return 0, err
	}
	return float64(st.cpu) / clockTick, nil
}

// TreeCPUSeconds is the CPU time of the processes pids, their live
// descendants and the children they have waited for, added up. None of
// pids may descend from another.
func TreeCPUSeconds(pids ...int) (float64, error) {
	var total int64
	for _, pid := range pids {
		root, err := readStat(pid)
		if err != nil {
			return 0, err
		}
		total += root.cpu + root.childCPU
	}
	byParent := children()
	for queue := slices.Clone(pids); len(queue) > 0; queue = queue[1:] {
		for _, c := range byParent[queue[0]] {
			total += c.st.cpu + c.st.childCPU
			queue = append(queue, c.pid)
		}
	}
	return float64(total) / clockTick, nil
}

// procNode is a process of /proc.
type procNode struct {
	pid int
	st  procStat
}

// children lists the processes of /proc by their parent's pid.
func children() map[int][]procNode {
	byParent := make(map[int][]procNode)
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := readStat(n); err == nil {
			byParent[st.ppid] = append(byParent[st.ppid], procNode{n, st})
		}
	}
	return byParent
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

// LoadAvg is the 1-minute load average.
func LoadAvg() float64 {
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

// Run runs a benchmark command's body until it returns or the process is
// interrupted (SIGINT, SIGTERM: ctx is cancelled), kills every process it
// started, and exits 1 with the error, prefixed by name, if it failed.
func Run(name string, body func(ctx context.Context) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := body(ctx)
	stop()
	KillAll()
	if err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(1)
	}
}

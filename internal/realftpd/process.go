package realftpd

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// process is a server's master process and the tree it forks.
type process struct {
	cmd      *exec.Cmd
	output   string // file with the master's stdout+stderr
	done     chan struct{}
	waitErr  error
	killOnce sync.Once
}

// startProcess runs argv[0] in its own process group and registers cleanup.
func startProcess(t TB, argv []string, outputFile string) (*process, error) {
	t.Helper()
	out, err := os.Create(outputFile)
	if err != nil {
		return nil, fmt.Errorf("server output: %w", err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.Stdin = nil
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	p := &process{cmd: cmd, output: outputFile, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		out.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill()
		<-p.done
	})
	return p, nil
}

// outputTail returns the end of the server's own output, for error messages.
func (p *process) outputTail() string {
	b, err := os.ReadFile(p.output)
	if err != nil {
		return ""
	}
	s := strings.TrimSpace(string(b))
	if len(s) > 2000 {
		s = "..." + s[len(s)-2000:]
	}
	return s
}

// waitGreeting connects to addr until the server answers with a 220 line, the
// process exits, or the deadline passes. With implicit, the greeting comes
// over TLS (not verified: only readiness is checked here).
func (p *process) waitGreeting(addr string, implicit bool) error {
	deadline := time.Now().Add(greetingTimeout)
	backoff := 5 * time.Millisecond
	var lastErr error
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return fmt.Errorf("server exited before greeting (%v): %s", p.waitErr, p.outputTail())
		default:
		}
		line, err := readGreeting(addr, time.Until(deadline), implicit)
		if err == nil {
			if strings.HasPrefix(line, "220") {
				return nil
			}
			return fmt.Errorf("unexpected greeting %q", line)
		}
		lastErr = err
		// Not listening yet: wait for the process to exit or a short backoff,
		// whichever comes first, then retry the condition.
		select {
		case <-p.done:
		case <-time.After(backoff):
		}
		if backoff < 100*time.Millisecond {
			backoff *= 2
		}
	}
	return fmt.Errorf("no 220 greeting from %s within %v: %w; output: %s", addr, greetingTimeout, lastErr, p.outputTail())
}

func readGreeting(addr string, timeout time.Duration, implicit bool) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	if implicit {
		c = tls.Client(c, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // readiness probe only
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
		return "", err
	}
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return "", fmt.Errorf("read greeting: %w", err)
		}
		// Multi-line 220: "220-..." continues until "220 ...".
		if len(line) >= 4 && line[3] == '-' {
			continue
		}
		_, _ = c.Write([]byte("QUIT\r\n"))
		return strings.TrimRight(line, "\r\n"), nil
	}
}

// kill stops the whole tree: first SIGSTOP every process (so none can fork or
// be reparented away while we look), until the set is stable, then SIGKILL.
// The process group covers what stays in it; the /proc walk covers sessions
// that made their own group or session.
func (p *process) kill() {
	p.killOnce.Do(func() {
		select {
		case <-p.done:
			return
		default:
		}
		root := p.cmd.Process.Pid
		seen := map[int]bool{}
		for range 50 {
			tree := descendants(root)
			tree = append(tree, root)
			grew := false
			for _, pid := range tree {
				if !seen[pid] {
					seen[pid] = true
					grew = true
					_ = syscall.Kill(pid, syscall.SIGSTOP)
				}
			}
			if !grew {
				break
			}
		}
		_ = syscall.Kill(-root, syscall.SIGKILL)
		for pid := range seen {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		<-p.done
		// Session processes may hold the listening socket too: the server is
		// gone only once every one of them has exited (a zombie has closed
		// its files). Bounded: SIGKILL cannot be ignored.
		deadline := time.Now().Add(10 * time.Second)
		for pid := range seen {
			for alive(pid) && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
		}
	})
}

// alive reports whether pid is a process that has not exited (zombies and
// vanished pids are not alive).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return false
	}
	state := s[i+2]
	return state != 'Z' && state != 'X'
}

// descendants lists the pids whose parent chain reaches root (via /proc).
func descendants(root int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	parent := map[int]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		ppid, err := readPPid(pid)
		if err != nil {
			continue
		}
		parent[pid] = ppid
	}
	var out []int
	for pid := range parent {
		for q, hops := parent[pid], 0; q > 1 && hops < 64; q, hops = parent[q], hops+1 {
			if q == root {
				out = append(out, pid)
				break
			}
		}
	}
	return out
}

func readPPid(pid int) (int, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// "pid (comm) state ppid ..."; comm may contain spaces and parens.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("bad stat")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0, errors.New("bad stat")
	}
	return strconv.Atoi(f[1])
}

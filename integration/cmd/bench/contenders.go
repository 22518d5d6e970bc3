package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// contender is one program under test.
type contender struct {
	name string
	// argv runs it; the common flags follow.
	argv []string
	// skip says why it cannot run, or "".
	skip string
}

// contenderOrder is the order of the table's rows within a scenario.
var contenderOrder = []string{"ceiling", "eddy", "kafka-streams"}

// buildContenders builds the selected contenders into dir. integrationDir is the
// integration module's directory.
func buildContenders(ctx context.Context, selected map[string]bool, integrationDir, kafkaStreamsDir, dir string) ([]*contender, error) {
	var out []*contender
	for _, name := range contenderOrder {
		if selected != nil && !selected[name] {
			continue
		}
		c := &contender{name: name}
		switch name {
		case "ceiling", "eddy":
			bin := filepath.Join(dir, "bench-"+name)
			cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/bench-"+name)
			cmd.Dir = integrationDir
			if b, err := cmd.CombinedOutput(); err != nil {
				return nil, fmt.Errorf("building bench-%s: %w\n%s", name, err, b)
			}
			c.argv = []string{bin}
		case "kafka-streams":
			if !filepath.IsAbs(kafkaStreamsDir) {
				kafkaStreamsDir = filepath.Join(integrationDir, kafkaStreamsDir)
			}
			c.argv, c.skip = buildKafkaStreams(ctx, kafkaStreamsDir)
		}
		fmt.Printf("contender %s: %s\n", name, orSkip(c))
		out = append(out, c)
	}
	for name := range selected {
		if !contains(contenderOrder, name) {
			return nil, fmt.Errorf("-contenders: unknown %q (known: %s)", name, strings.Join(contenderOrder, ","))
		}
	}
	return out, nil
}

func orSkip(c *contender) string {
	if c.skip != "" {
		return c.skip
	}
	return strings.Join(c.argv, " ")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// buildKafkaStreams runs dir/build.sh, which builds the Java contender and prints the
// command line that runs it (its last line on stdout). The command line runs through
// sh, exec'd so that the measured pid is the JVM's.
func buildKafkaStreams(ctx context.Context, dir string) (argv []string, skip string) {
	script := filepath.Join(dir, "build.sh")
	if _, err := os.Stat(script); err != nil {
		return nil, "not built: " + script + " is absent"
	}
	cmd := exec.CommandContext(ctx, "bash", script)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Sprintf("not built: build.sh failed (%v): %s", err, lastLine(stderr.String()))
	}
	line := lastLine(stdout.String())
	if line == "" {
		return nil, "not built: build.sh printed no command line"
	}
	return []string{"sh", "-c", "cd " + shellQuote(dir) + " && exec " + line + ` "$@"`, "kafka-streams"}, ""
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// args are the common flags of one run.
type args struct {
	scenario, bootstrap, appID, stateDir, input, output, table, guarantee string
	commitMs                                                              int
	cacheBytes                                                            int64
	// cpuProfile, when set, is passed as --cpuprofile (the Go contenders take it).
	cpuProfile string
}

func (a args) list() []string {
	l := []string{
		"--scenario", a.scenario, "--bootstrap", a.bootstrap, "--app-id", a.appID,
		"--state-dir", a.stateDir, "--input", a.input, "--output", a.output,
		"--guarantee", a.guarantee, "--commit-interval-ms", strconv.Itoa(a.commitMs),
		"--cache-bytes", strconv.FormatInt(a.cacheBytes, 10), "--threads", "1",
	}
	if a.table != "" {
		l = append(l, "--table", a.table)
	}
	if a.cpuProfile != "" {
		l = append(l, "--cpuprofile", a.cpuProfile)
	}
	return l
}

// process is a running contender.
type process struct {
	cmd     *exec.Cmd
	started time.Time
	ready   chan struct{}
	exited  chan struct{}
	err     error // Wait's result, once exited is closed
	logPath string
}

// start starts c with a's flags, its stderr going to a log file in logDir.
func start(c *contender, a args, logDir string) (*process, error) {
	logPath := filepath.Join(logDir, a.appID+".log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	argv := append(append([]string(nil), c.argv...), a.list()...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = logFile
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logFile.Close()
		return nil, err
	}
	p := &process{cmd: cmd, ready: make(chan struct{}), exited: make(chan struct{}), logPath: logPath}
	p.started = time.Now()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		readyClosed := false
		for sc.Scan() {
			if strings.TrimSpace(sc.Text()) == "ready" && !readyClosed {
				close(p.ready)
				readyClosed = true
			} else {
				fmt.Fprintf(logFile, "stdout: %s\n", sc.Text())
			}
		}
		io.Copy(io.Discard, stdout)
		p.err = cmd.Wait()
		logFile.Close()
		close(p.exited)
	}()
	return p, nil
}

// stats are what /proc says of a process.
type stats struct {
	cpu     time.Duration
	peakRSS int64 // bytes
}

var clockTicks = func() int64 {
	if b, err := exec.Command("getconf", "CLK_TCK").Output(); err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && n > 0 {
			return n
		}
	}
	return 100
}()

// procStats reads the CPU time (utime+stime) and VmHWM of p.
func (p *process) procStats() (stats, error) {
	pid := p.cmd.Process.Pid
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return stats{}, err
	}
	i := bytes.LastIndexByte(stat, ')')
	fields := strings.Fields(string(stat[i+1:]))
	if len(fields) < 13 {
		return stats{}, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(fields))
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	s := stats{cpu: time.Duration((utime + stime) * int64(time.Second) / clockTicks)}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return stats{}, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				s.peakRSS = kb * 1024
			}
		}
	}
	return s, nil
}

// stop sends SIGTERM and waits for a clean exit; after a minute it kills p.
func (p *process) stop() error {
	select {
	case <-p.exited:
		return p.exitError()
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return p.exitError()
	case <-time.After(time.Minute):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("no exit a minute after SIGTERM: killed (log %s)", p.logPath)
	}
}

func (p *process) exitError() error {
	if p.err != nil {
		return fmt.Errorf("%w (log %s: %s)", p.err, p.logPath, p.logTail())
	}
	return nil
}

func (p *process) logTail() string {
	b, _ := os.ReadFile(p.logPath)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 3 {
		lines = lines[len(lines)-3:]
	}
	return strings.Join(lines, " | ")
}

var errExited = errors.New("the contender exited")

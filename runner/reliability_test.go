package runner_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"crew/internal/testproc"
	"crew/internal/wait"
	"crew/runner"
)

// crewCmd returns the test binary set up to run as the crew CLI.
func crewCmd(env []string, args ...string) *exec.Cmd {
	cmd := testproc.Command("crew", args...)
	cmd.Env = append(os.Environ(), env...)
	return cmd
}

func joblogSeqs(t *testing.T, path string) map[int64]int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seen := map[int64]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		if fields[0] == "Seq" || len(fields) < 9 {
			continue
		}
		seq, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			t.Fatalf("bad joblog line %q", sc.Text())
		}
		seen[seq]++
	}
	return seen
}

// TestKillResume kills crew with SIGKILL in the middle of 1,000 jobs and
// resumes: every job must be recorded exactly once.
func TestKillResume(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	var b strings.Builder
	for i := 1; i <= 1000; i++ {
		fmt.Fprintln(&b, i)
	}
	if err := os.WriteFile(in, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "joblog")
	cmd := crewCmd(nil, "run", "-j2", "--joblog", log, "true", "::::", in)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	progressed := wait.Until(wait.Timeout, func() bool {
		data, _ := os.ReadFile(log)
		return strings.Count(string(data), "\n") > 150
	})
	cmd.Process.Kill()
	if !progressed {
		cmd.Wait()
		t.Fatal("no progress in the joblog")
	}
	cmd.Wait()
	before := joblogSeqs(t, log)
	if len(before) >= 1000 {
		t.Skip("crew finished before the kill; nothing to resume")
	}
	out, err := crewCmd(nil, "run", "-j2", "--joblog", log, "--resume", "true", "::::", in).CombinedOutput()
	if err != nil {
		t.Fatalf("resume: %v\n%s", err, out)
	}
	after := joblogSeqs(t, log)
	for seq := int64(1); seq <= 1000; seq++ {
		if after[seq] != 1 {
			t.Errorf("job %d recorded %d times", seq, after[seq])
		}
	}
	if len(after) != 1000 {
		t.Errorf("joblog records %d distinct jobs, want 1000", len(after))
	}
}

// TestInterruptLeavesNothing sends SIGINT to crew while jobs (and the
// processes they left in the background) sleep; nothing may survive.
func TestInterruptLeavesNothing(t *testing.T) {
	marker := fmt.Sprintf("CREW_TEST_MARK=%d-%d", os.Getpid(), time.Now().UnixNano())
	cmd := crewCmd([]string{marker}, "run", "-j3", "sleep 100 & sleep 100; echo {}", ":::", "1", "2", "3", "4", "5")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	wait.For(t, "jobs to start", func() bool { return len(markedProcs(t, marker)) >= 1+3*3 })
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 255 {
		t.Errorf("exit status %d (%v), want 255", code, err)
	}
	wait.For(t, "every job process to go", func() bool { return len(markedProcs(t, marker)) == 0 })
}

// TestTimeoutKillsGroup checks that a timeout takes the processes a job
// left in the background with it.
func TestTimeoutKillsGroup(t *testing.T) {
	marker := fmt.Sprintf("CREW_TEST_MARK=%d-%d", os.Getpid(), time.Now().UnixNano())
	job := &runner.Job{Seq: 1, Command: "sleep 1000 & sleep 1000", Timeout: 200 * time.Millisecond, Env: []string{marker}}
	res := runner.Local{}.Exec(context.Background(), job, nil, nil)
	if !res.TimedOut || res.Signal != int(syscall.SIGTERM) {
		t.Errorf("result %+v, want a timeout ending in SIGTERM", res)
	}
	wait.For(t, "the background sleep to go", func() bool { return len(markedProcs(t, marker)) == 0 })
}

// TestLargeOutputIntact passes 100 MB through a grouped job and compares
// hashes.
func TestLargeOutputIntact(t *testing.T) {
	const n = 13_000_000 // seq 1 13000000 prints about 101 MB
	// The same program run directly is the reference.
	want := sha256.New()
	ref := exec.Command("seq", "1", strconv.Itoa(n))
	ref.Stdout = want
	if err := ref.Run(); err != nil {
		t.Fatal(err)
	}
	for _, keep := range []bool{true} {
		got := sha256.New()
		cw := &countingWriter{w: got}
		sum, err := runner.Run(context.Background(), runner.Config{
			Command:   []string{"seq", "1"},
			Inputs:    []runner.Input{{Values: []string{strconv.Itoa(n)}}},
			Jobs:      1,
			Executor:  runner.Local{},
			KeepOrder: keep,
			Stdout:    cw,
		})
		if err != nil || sum.Failed != 0 {
			t.Fatalf("run: %v, %+v", err, sum)
		}
		if fmt.Sprintf("%x", got.Sum(nil)) != fmt.Sprintf("%x", want.Sum(nil)) {
			t.Errorf("keep=%v: output of %d bytes differs from seq's", keep, cw.n)
		}
	}
}

type countingWriter struct {
	w interface{ Write([]byte) (int, error) }
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return c.w.Write(p)
}

// TestHangupDrains sends SIGHUP to crew: it starts no new job, lets the
// running ones finish, and exits as if the run had ended there.
func TestHangupDrains(t *testing.T) {
	marker := fmt.Sprintf("CREW_TEST_MARK=%d-%d", os.Getpid(), time.Now().UnixNano())
	var out, errb strings.Builder
	cmd := crewCmd([]string{marker}, "run", "-j2", "sleep 0.5; echo {}", ":::", "1", "2", "3", "4", "5", "6")
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// crew itself, then a shell and a sleep for each of the two jobs.
	wait.For(t, "jobs to start", func() bool { return len(markedProcs(t, marker)) >= 5 })
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("crew after SIGHUP: %v", err)
	}
	if lines := strings.Fields(out.String()); len(lines) != 2 {
		t.Errorf("after SIGHUP, output %q; want the two running jobs' lines", out.String())
	}
	// Pending jobs are not dropped silently: crew says so and names the
	// jobs it waits for, as GNU parallel does.
	want := "crew: no new jobs will be started; waiting for these 2 jobs to finish:\n" +
		"crew:   sleep 0.5; echo 1\ncrew:   sleep 0.5; echo 2\n"
	if errb.String() != want {
		t.Errorf("stderr after SIGHUP %q, want %q", errb.String(), want)
	}
}

// procsWith lists the marked processes whose environment also holds env.
func procsWith(t testing.TB, marker, env string) []int {
	t.Helper()
	var pids []int
	for _, pid := range markedProcs(t, marker) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if err == nil && strings.Contains("\x00"+string(b), "\x00"+env+"\x00") {
			pids = append(pids, pid)
		}
	}
	return pids
}

// procsNamed lists the marked processes running the program name.
func procsNamed(t testing.TB, marker, name string) []int {
	t.Helper()
	var pids []int
	for _, pid := range markedProcs(t, marker) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err == nil && strings.TrimSpace(string(b)) == name {
			pids = append(pids, pid)
		}
	}
	return pids
}

// killMarked makes sure a failing test leaves no sleeping processes behind.
func killMarked(t *testing.T, marker string) {
	t.Cleanup(func() {
		for _, pid := range markedProcs(t, marker) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
}

// TestSigkillLeavesNothing kills crew with SIGKILL while its jobs sleep
// with a second sleep in the background. Pdeathsig reaches only each job's
// leader; the guard process must take the rest of every job's process group
// down, and then go itself.
func TestSigkillLeavesNothing(t *testing.T) {
	marker := fmt.Sprintf("CREW_TEST_MARK=%d-%d", os.Getpid(), time.Now().UnixNano())
	killMarked(t, marker)
	cmd := crewCmd([]string{marker}, "run", "-j3", "sh -c 'sleep 1000 & sleep 1000' job{}", ":::", "1", "2", "3", "4")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	wait.For(t, "three jobs with both sleeps", func() bool { return len(procsNamed(t, marker, "sleep")) >= 2*3 })
	if g := procsWith(t, marker, runner.GuardEnv); len(g) != 1 {
		t.Fatalf("%d guard processes running, want 1", len(g))
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	wait.For(t, "every job process and the guard to go", func() bool { return len(markedProcs(t, marker)) == 0 })
}

// TestGuardEndsWithCrew checks that the guard does not outlive a run that
// ends normally.
func TestGuardEndsWithCrew(t *testing.T) {
	marker := fmt.Sprintf("CREW_TEST_MARK=%d-%d", os.Getpid(), time.Now().UnixNano())
	killMarked(t, marker)
	cmd := crewCmd([]string{marker}, "run", "-j2", "sleep 0.3; echo {}", ":::", "1", "2")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	wait.For(t, "the guard to start", func() bool { return len(procsWith(t, marker, runner.GuardEnv)) == 1 })
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	wait.For(t, "the guard to go", func() bool { return len(markedProcs(t, marker)) == 0 })
}

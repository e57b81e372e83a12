package child_test

import (
	"context"
	"fmt"
	"os/exec"
	"runtime"
	"syscall"
	"time"

	"crew/internal/child"
)

// A command's output captured in a memory file, and its exit status.
func ExampleStart() {
	// The thread that starts a child must last until it is reaped.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	out, _, err := child.OutputFile()
	if err != nil {
		panic(err)
	}
	cmd := exec.Command("/bin/sh", "-c", "echo hello; exit 3")
	cmd.Stdout = out
	c, err := child.Start(context.Background(), cmd, nil)
	if err != nil {
		panic(err)
	}
	st, _ := c.Wait()
	b, _ := child.ReadOutput(out)
	fmt.Printf("%s", b)
	fmt.Println("exit code:", st.Code)
	// Output:
	// hello
	// exit code: 3
}

// A timeout stops a command through its termination sequence: here one
// SIGTERM, with a second for the command to go, then SIGKILL.
func ExampleStart_timeout() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	cmd := exec.Command("/bin/sh", "-c", "sleep 10")
	c, err := child.Start(ctx, cmd, []child.TermStep{{Signal: syscall.SIGTERM, Wait: time.Second}})
	if err != nil {
		panic(err)
	}
	st, _ := c.Wait()
	fmt.Println("terminated:", c.Terminated())
	fmt.Println("signal:", st.Signal)
	// Output:
	// terminated: true
	// signal: terminated
}

//go:build unix

package main

import (
	"os/exec"
	"syscall"
	"time"
)

// prepare runs soffice in a process group of its own, so a timeout ends the office suite's
// child processes too (soffice is a launcher that starts soffice.bin).
func prepare(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
}

//go:build !unix

package main

import (
	"os/exec"
	"time"
)

// prepare bounds the wait for soffice's output after a timeout.
func prepare(cmd *exec.Cmd) { cmd.WaitDelay = 5 * time.Second }

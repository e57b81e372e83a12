// Command crew runs work concurrently: on goroutines, on isolated OS
// processes, or across many machines. See the README for a tour.
package main

import (
	"os"

	"crew/internal/cli"
)

func main() { os.Exit(cli.Main()) }
